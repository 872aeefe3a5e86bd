"""Prometheus metrics, one `CollectorRegistry` per app so several apps (tests, replicas in one process) never
share or collide on counters.

The engine counts its own events (it sees leases the assigner makes and expiries nobody asked for), so those and the
queue gauges are read from it at scrape time rather than mirrored here, where they could drift.

Each replica answers `/metrics` with its own: a standby has no engine, so it exports no engine series and a scrape of
every replica counts each queue once; the requests it passes on are timed apart from those it serves, so the
serving process alone counts them by route (found by a probe: a standby passed the scrape on, doubling every depth
and rate on a dashboard that scraped both, and counted what it passed on as `(unmatched)` once it took over).
"""

from __future__ import annotations

import time
from collections.abc import Iterable

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from queueopt.domain import Action, Modality, Verdict
from queueopt.engine import Engine

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
SOLVER_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)
BATCH_BUCKETS = (0, 1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000)
# Keys a request's ASGI scope carries for the timing middleware: set by whoever knows, read by `HttpLatency`.
PASSED_ON = "queueopt.passed_on"  # a standby passed the request to the serving process (or answered 503 for it)
WAITED_S = "queueopt.waited_s"  # seconds a moderator's long-poll spent waiting for work, not serving


class ServiceMetrics:
    """The app's registry: HTTP latency and assigner timings observed here, engine state read at scrape time."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.http_latency = Histogram(
            "queueopt_http_request_duration_seconds",
            "HTTP request latency by route template, method and status; a long-poll's wait for work left out.",
            ["route", "method", "status"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.passed_on = Histogram(
            "queueopt_passed_on_request_duration_seconds",
            "Requests a standby passed to the serving process, by method and the status it answered.",
            ["method", "status"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.long_poll_wait = Histogram(
            "queueopt_next_wait_seconds",
            "Time a moderator's ask for the next task waited for work (up to its wait_s).",
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.serving = Gauge(
            "queueopt_serving",
            "1 in the process that runs the engine and serves the store, 0 in a standby.",
            registry=self.registry,
        )
        self.solver_seconds = Histogram(
            "queueopt_solver_seconds",
            "Time the matching solver took in one assignment batch.",
            buckets=SOLVER_BUCKETS,
            registry=self.registry,
        )
        self.batch_size = Histogram(
            "queueopt_assign_batch_size",
            "Leases made by one assignment batch.",
            buckets=BATCH_BUCKETS,
            registry=self.registry,
        )

        self.purged = Counter(
            "queueopt_items_purged",
            "Settled items deleted by the retention purge, with their tasks, audit entries and content history.",
            registry=self.registry,
        )

    def watch(self, engine: Engine) -> None:
        self.registry.register(_EngineCollector(engine))
        self.serving.set(1)

    def render(self) -> bytes:
        return generate_latest(self.registry)


class _EngineCollector(Collector):
    """Queue gauges and the engine's cumulative counters, read when Prometheus scrapes.

    `dict(counter)` copies in one step under the GIL, so a scrape never sees a counter change size mid-read. Every
    label set a counter can have is exported from the start, at 0: a series first seen at 1 reads to Prometheus as
    no increase, so the first SLA breach of a queue after a restart would never show (found by a probe).
    """

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def collect(self) -> Iterable[Metric]:
        yield from self._queues()
        stats = self._engine.stats
        submitted = CounterMetricFamily(
            "queueopt_items_submitted", "Items stored, by modality and routing action.", labels=["modality", "action"]
        )
        counts = dict(stats.submitted)
        for modality in Modality:
            for action in Action:
                submitted.add_metric([modality, action], counts.get((modality, action), 0))
        decided = CounterMetricFamily(
            "queueopt_decisions",
            "Review decisions recorded, by verdict (a QA re-review decides no item).",
            labels=["verdict"],
        )
        verdicts = dict(stats.decided)
        for verdict in Verdict:
            decided.add_metric([verdict], verdicts.get(verdict, 0))
        breaches = CounterMetricFamily(
            "queueopt_sla_breaches", "Tasks decided after their queue's SLA.", labels=["queue"]
        )
        late = dict(stats.sla_breaches)
        for queue in self._engine.config.queues:
            breaches.add_metric([queue.name], late.get(queue.name, 0))
        qa = CounterMetricFamily(
            "queueopt_qa_reviews",
            "QA reviews decided, by queue and whether they agreed with the decision they checked (the same verdict "
            "and, for a violation, the same policy): the queue's decision quality.",
            labels=["queue", "agrees"],
        )
        reviewed = dict(stats.qa_reviews)
        for queue in self._engine.config.queues:
            for agrees in (True, False):
                qa.add_metric([queue.name, str(agrees).lower()], reviewed.get((queue.name, agrees), 0))
        yield submitted
        yield decided
        yield breaches
        yield qa
        yield CounterMetricFamily("queueopt_tasks_leased", "Leases made, by the assigner or on request.", stats.leased)
        yield CounterMetricFamily("queueopt_lease_expiries", "Leases that ran out and went back.", stats.expired)
        yield CounterMetricFamily("queueopt_assign_batches", "Assignment batches that had work.", stats.batches)
        yield GaugeMetricFamily(
            "queueopt_moderators_idle_after_expiry",
            "Moderators pushed no work since a lease of theirs ran out, until they act again.",
            value=self._engine.idle_after_expiry(),
        )

    def _queues(self) -> Iterable[Metric]:
        depth = GaugeMetricFamily("queueopt_queue_depth", "Tasks waiting in the queue.", labels=["queue"])
        leased = GaugeMetricFamily("queueopt_queue_leased", "Tasks of the queue under lease.", labels=["queue"])
        oldest = GaugeMetricFamily(
            "queueopt_queue_oldest_age_seconds", "Age of the oldest waiting task (0 when empty).", labels=["queue"]
        )
        within = GaugeMetricFamily(
            "queueopt_queue_within_sla_ratio",
            "Share of the last hour's decisions made within the SLA.",
            labels=["queue"],
        )
        unstaffed = GaugeMetricFamily(
            "queueopt_queue_unstaffed",
            "Waiting tasks nobody on the roster may take, whoever comes on shift and after every escalation step.",
            labels=["queue"],
        )
        sla = GaugeMetricFamily(
            "queueopt_queue_sla_seconds", "The queue's SLA: seconds from submission to a decision.", labels=["queue"]
        )
        target = GaugeMetricFamily(
            "queueopt_queue_sla_target_ratio",
            "Share of decisions the queue must make within its SLA.",
            labels=["queue"],
        )
        for queue in self._engine.queues():
            depth.add_metric([queue.name], queue.depth)
            leased.add_metric([queue.name], queue.leased)
            oldest.add_metric([queue.name], queue.oldest_age_s or 0.0)
            if queue.within_sla_last_hour is not None:
                within.add_metric([queue.name], queue.within_sla_last_hour)
            unstaffed.add_metric([queue.name], queue.unstaffed)
            sla.add_metric([queue.name], queue.sla_s)
            target.add_metric([queue.name], queue.sla_target)
        yield from (depth, leased, oldest, within, unstaffed, sla, target)


class HttpLatency:
    """Times every HTTP request and labels it with the route template (`/v1/items/{item_id}`), never the raw path,
    so the label set stays bounded whatever clients send. A long-poll's wait for work is its own histogram, not
    latency: with `wait_s` up to 30 s, the p99 of `/next` would be the wait moderators asked for (found by a probe).
    """

    def __init__(self, app: ASGIApp, metrics: ServiceMetrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = 500

        async def send_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_status)
        finally:
            took = time.perf_counter() - start
            if scope.get(PASSED_ON):
                self.metrics.passed_on.labels(scope["method"], str(status)).observe(took)
            else:
                route = scope.get("route")
                template = getattr(route, "path", None) or "(unmatched)"
                waited: float | None = scope.get(WAITED_S)
                if waited is not None:
                    self.metrics.long_poll_wait.observe(waited)
                    took -= waited
                self.metrics.http_latency.labels(template, scope["method"], str(status)).observe(took)
