"""`python -m audit` runs the exaudit command line."""

from audit.cli import main_entry

main_entry()
