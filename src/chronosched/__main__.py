"""`python -m chronosched` runs the CLI (used by `chronosched up` to start its components)."""

from chronosched.cli.main import app

app()
