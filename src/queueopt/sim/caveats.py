"""What a strategist must know before reading a run's SLA shares: the queues whose shares do not mean "met".

An item still open at the horizon counts as an SLA miss only once older than its queue's `sla_s`, so a queue
nobody reviews, or one whose `sla_s` outlasts the measured window, shows a perfect or empty SLA while its items pile
up. `simulate` and `compare` print these lines beside the numbers rather than leave the reader to find `open_share`.
"""

from __future__ import annotations

from collections.abc import Mapping

from queueopt.sim.scenario import Scenario
from queueopt.sim.stats import Estimate

MOSTLY_OPEN = 0.5


def caveats(scenario: Scenario, estimates: Mapping[str, Estimate]) -> list[str]:
    """One line per queue whose items are mostly open at the horizon, or whose SLA the window cannot measure."""
    window = scenario.horizon_s - scenario.warmup_s
    lines = []
    for queue in scenario.ops.queues:
        items = estimates.get(f"queue.{queue.name}.items")
        if items is None or items.mean == 0:
            continue
        still_open = estimates.get(f"queue.{queue.name}.open_share")
        if still_open is not None and still_open.mean > MOSTLY_OPEN:
            lines.append(
                f"queue {queue.name}: {still_open.mean:.0%} of its items are undecided at the horizon; its SLA shares "
                f"count only those older than sla_s ({queue.sla_s:g} s)"
            )
        if queue.sla_s >= window:
            lines.append(
                f"queue {queue.name}: SLA not measured: sla_s ({queue.sla_s:g} s) is at least the measured window "
                f"({window:g} s), so an undecided item never counts as a miss"
            )
    return lines
