"""`python -m tessera`: the command line."""

from tessera.cli import cli

cli(prog_name="python -m tessera")
