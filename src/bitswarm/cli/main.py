"""The ``bitswarm`` command: one group, one module per subcommand.

Exit status follows DESIGN.md: 0 on success, 1 when the job ran but failed
(damaged data, a download that could not finish), 2 on bad input or usage.
Errors are one line on stderr; ``--debug`` shows the traceback instead.
"""

from __future__ import annotations

import importlib
import sys
from typing import Any

import click

from bitswarm import __version__
from bitswarm.cli.commands import COMMANDS
from bitswarm.cli.errors import UserError


class _Group(click.Group):
    """Turns any exception that escapes a subcommand, usage errors included, into one line;
    loads each subcommand's module when the subcommand is asked for."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return [*COMMANDS, *super().list_commands(ctx)]

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        where = COMMANDS.get(name)
        if where is None:
            return super().get_command(ctx, name)
        module, _, attribute = where.partition(":")
        command = getattr(importlib.import_module(module), attribute)
        assert isinstance(command, click.Command), where
        return command

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except click.UsageError as error:  # a bad option value or argument: one line too
            where = error.ctx.command_path if error.ctx else ctx.command_path
            click.echo(
                f"bitswarm: error: {error.format_message()} (see '{where} --help')", err=True
            )
            sys.exit(2)
        except (click.exceptions.Exit, click.exceptions.Abort, click.ClickException):
            raise
        except Exception as error:  # the one place every error is reported
            if ctx.obj and ctx.obj.get("debug"):
                raise
            status = error.status if isinstance(error, UserError) else 2
            click.echo(f"bitswarm: error: {_describe(error)}", err=True)
            sys.exit(status)


def _describe(error: Exception) -> str:
    if isinstance(error, OSError) and error.strerror:
        where = f": {error.filename}" if error.filename else ""
        return f"{error.strerror}{where}"
    return str(error) or type(error).__name__


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="bitswarm")
@click.option("--debug", is_flag=True, help="Show full tracebacks on errors.")
@click.pass_context
def main(ctx: click.Context, debug: bool) -> None:
    """bitswarm: make and check torrents, run trackers, download and seed."""
    ctx.ensure_object(dict)["debug"] = debug
