"""The shipped Grafana dashboard queries only metrics the service exports, and covers each one."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

DASHBOARD = Path(__file__).resolve().parents[2] / "deploy" / "grafana" / "queueopt.json"


def _exported(metrics_text: str) -> set[str]:
    """Metric families, without prometheus-client's `*_created` timestamps, which no dashboard needs."""
    families = set(re.findall(r"^# TYPE (queueopt_\w+) ", metrics_text, re.MULTILINE))
    return {name for name in families if not name.endswith("_created")}


def _queried() -> set[str]:
    dashboard = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    names = set()
    for panel in dashboard["panels"]:
        for target in panel["targets"]:
            names |= set(re.findall(r"queueopt_\w+", target["expr"]))
    return {re.sub(r"_(bucket|count|sum|total)$", "", name) for name in names}


def test_the_dashboard_uses_exported_metrics_and_every_one_of_them(api: Any) -> None:
    exported = {
        re.sub(r"_total$", "", name)
        for name in _exported(api.client.get("/metrics", headers=api.bearer("metrics")).text)
    }
    queried = _queried()
    assert queried <= exported, queried - exported
    assert exported <= queried, exported - queried
