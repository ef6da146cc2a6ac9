"""The list of subcommands; each lives in a module of its own."""

from __future__ import annotations

import click

ALL: list[click.Command] = []
