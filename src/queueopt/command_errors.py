"""How a `queueopt` command ends on a file or settings it cannot use: one `source: field.path: reason` line per
problem on stderr and exit status 1, the same for every command."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import NoReturn

import typer


def exit_with(source: str, problems: Sequence[str]) -> NoReturn:
    for problem in problems:
        print(f"{source}: {problem}", file=sys.stderr)
    raise typer.Exit(1)
