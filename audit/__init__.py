"""exaudit: prove that an integration's Exchange mailbox access is scoped exactly as intended."""

__version__ = "0.1.0"
