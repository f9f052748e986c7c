"""CLI commands that work on the configuration directory alone, without the running system.

Each module has `register(subparsers)`, which adds its commands to an argparse parser and sets
`handler(args) -> int` (the exit code) on the parsed arguments.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from tempen.commands import config_check, org


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add `config check` and `org import` / `org chain`."""
    config_check.register(subparsers)
    org.register(subparsers)


def run(argv: Sequence[str] | None = None, *, prog: str = "tempen") -> int:
    """Parse `argv` with just these commands and run the chosen one; returns the exit code."""
    parser = argparse.ArgumentParser(prog=prog)
    register(parser.add_subparsers(dest="command", required=True, metavar="COMMAND"))
    args = parser.parse_args(argv)
    exit_code: int = args.handler(args)
    return exit_code
