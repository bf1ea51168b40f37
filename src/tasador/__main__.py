"""`python -m tasador` is the `tasador` command."""

from tasador.cli import app

app()
