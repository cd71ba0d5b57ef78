"""The ``bcnmf`` command: argument parser, subcommands, HTML report and demo."""

from bcnmf.cli.main import main

__all__ = ["main"]
