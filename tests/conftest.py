"""Shared pytest configuration: tests only ever talk to 127.0.0.1."""
