"""The `queueopt` command. Each area registers its own sub-commands; this module only wires them and turns
every failure into one line on stderr and a non-zero exit, never a traceback."""

from __future__ import annotations

import sys

import typer

from queueopt.enqueue import commands as enqueue_commands
from queueopt.errors import QueueoptError
from queueopt.service import commands as service_commands
from queueopt.sim import commands as sim_commands
from queueopt.store import commands as store_commands

# click's UsageError and ClickException: typer (from 0.29) vendors click and exports neither, but its BadParameter is
# still a UsageError, itself a ClickException, in every version.
_UsageError: type[Exception] = typer.BadParameter.__base__  # type: ignore[assignment]
_ClickException: type[Exception] = _UsageError.__base__  # type: ignore[assignment]

app = typer.Typer(
    name="queueopt",
    help="Schedule content-moderation queues and assign review tasks to moderators.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)


@app.callback()
def _root() -> None:
    """Schedule content-moderation queues and assign review tasks to moderators."""


def main() -> None:
    """Run the command; a usage mistake (a missing option, a value out of range) is one line and exit status 2, as
    click would say it without the framed box typer draws around it."""
    try:
        code = app(standalone_mode=False)
    except _ClickException as error:
        context = getattr(error, "ctx", None)
        command = context.command_path if context is not None else "queueopt"
        reason = " ".join(getattr(error, "format_message", error.__str__)().split())
        hint = f" (see '{command} --help')" if isinstance(error, _UsageError) else ""
        if reason:  # no reason: `queueopt` alone, whose help is already printed
            print(f"{command}: {reason}{hint}", file=sys.stderr)
        sys.exit(getattr(error, "exit_code", 1))
    except typer.Abort:
        sys.exit(1)
    except QueueoptError as error:
        where = f"{error.field}: " if error.field else ""
        print(f"queueopt: {where}{error.message}", file=sys.stderr)
        sys.exit(1)
    except KeyboardInterrupt:
        sys.exit(130)
    sys.exit(code if isinstance(code, int) else 0)


@app.command()
def version() -> None:
    """Print the installed version."""
    from queueopt import __version__

    print(__version__)


enqueue_commands.register(app)
service_commands.register(app)
sim_commands.register(app)
store_commands.register(app)

if __name__ == "__main__":
    main()
