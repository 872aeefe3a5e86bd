"""The `queueopt` command. Each area registers its own sub-commands; this module only wires them and turns
every failure into one line on stderr and a non-zero exit, never a traceback."""

from __future__ import annotations

import sys

import typer

from queueopt.enqueue import commands as enqueue_commands
from queueopt.errors import QueueoptError
from queueopt.service import commands as service_commands
from queueopt.sim import commands as sim_commands

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
    try:
        app()
    except QueueoptError as error:
        where = f"{error.field}: " if error.field else ""
        print(f"queueopt: {where}{error.message}", file=sys.stderr)
        sys.exit(1)
    except KeyboardInterrupt:
        sys.exit(130)


@app.command()
def version() -> None:
    """Print the installed version."""
    from queueopt import __version__

    print(__version__)


enqueue_commands.register(app)
service_commands.register(app)
sim_commands.register(app)
