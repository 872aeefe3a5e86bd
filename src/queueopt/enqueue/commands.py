"""`queueopt check-config` and `queueopt route`: let a strategist test a config before it reaches production."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer
from pydantic import ValidationError

from queueopt.command_errors import exit_with
from queueopt.config import ConfigError, OpsConfig, decoded, format_validation_error, load_config, read_text
from queueopt.domain import SentItem
from queueopt.enqueue.relaxations import risky_relaxations
from queueopt.enqueue.router import Router, unlinked
from queueopt.enqueue.rules import unreachable_rules
from queueopt.errors import InvalidInput, QueueoptError


def _load_or_exit(path: Path) -> OpsConfig:
    try:
        return load_config(path)
    except ConfigError as error:
        exit_with(error.source, error.problems)


def check_config(file: Annotated[Path, typer.Argument(help="Ops config (TOML).")]) -> None:
    """Validate an ops config: one `file: field.path: reason` line per error; warns about unreachable rules and
    escalation steps that relax region or a clearance or certification the queue requires."""
    config = _load_or_exit(file)
    for warning in [*unreachable_rules(config), *risky_relaxations(config)]:
        print(f"{file}: warning: {warning}", file=sys.stderr)
    print(f"{file}: ok ({len(config.queues)} queues, {len(config.rules)} rules)")


def route(
    items: Annotated[Path, typer.Argument(help="JSON Lines, one item per line; '-' reads stdin.")],
    config_file: Annotated[Path, typer.Option("--config", "-c", help="Ops config (TOML).")],
) -> None:
    """Route items without storing them: one JSON line per item with its queue, priority, action and why."""
    router = Router(_load_or_exit(config_file))
    failures = 0
    for number, line in enumerate(_lines(items), start=1):
        if not line.strip():
            continue
        try:
            item = SentItem.model_validate_json(line)  # as the API reads it
            problem = unlinked(item)  # as the API refuses it (found by a probe: `route` routed it)
            if problem is not None:
                raise InvalidInput(problem, field="content_hash")
            routing = router.route(item)
        except ValidationError as error:
            failures += 1
            for problem in format_validation_error(error):
                print(f"{items}:{number}: {problem}", file=sys.stderr)
            continue
        except QueueoptError as error:
            failures += 1
            print(f"{items}:{number}: {error.field}: {error.message}", file=sys.stderr)
            continue
        record = {
            "id": item.id,
            "queue": routing.queue,
            "priority": routing.priority,
            "action": routing.action.value,
            "explanation": routing.explanation,
        }
        print(json.dumps(record))
    if failures:
        raise typer.Exit(1)


def _lines(path: Path) -> list[str]:
    """The items file's lines, or stdin's for '-'; a file that cannot be read or is not UTF-8 ends the command.
    Split at newlines only: `splitlines` would also split inside a JSON string holding U+2028 or U+0085."""
    try:
        return (decoded(sys.stdin.buffer.read(), "-") if str(path) == "-" else read_text(path)).split("\n")
    except ConfigError as error:
        exit_with(error.source, error.problems)


def register(app: typer.Typer) -> None:
    app.command("check-config")(check_config)
    app.command("route")(route)
