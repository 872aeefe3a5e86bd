"""The simulator, driving the real engine, against queueing theory: Erlang C, Erlang A, Cobham and Little's law.

Each case runs replications and checks the theoretical value against the 95% confidence interval over them,
never against pinned seeded numbers. The M/M/c case also requires the point estimate within 3%, which needs
about 170,000 simulated items, hence the `slow` mark.
"""

import numpy as np
import pytest

from queueopt.sim import theory
from queueopt.sim.experiment import Experiment, run_experiment
from queueopt.sim.kpis import backlog_curve, kpis, waits
from queueopt.sim.simulator import RunRecord

from .helpers import mm_c


def _little_holds_on_every_run(experiment: Experiment) -> None:
    """L, the engine's queue depth integrated over the window, against lambda W + L0 from the item records: the
    finite-window form leaves no edge effect, and in these pull runs (no QA, no copies) the engine queues exactly
    the waiting items, so both sides are the area under one step function and only rounding may part them."""
    ratios = [run["overall.little_ratio"] for run in experiment.replications]
    np.testing.assert_allclose(ratios, 1.0, rtol=1e-9)


MMC_SLA_S = 60.0  # the `sla_s` of the queue `mm_c` builds


def _kpis_and_wait_within_sla(run: RunRecord) -> dict[str, float]:
    """The KPIs and the share of the window's items that waited at most the SLA: Erlang C's `P(W <= t)`, which
    unlike the mean wait holds only when the engine serves the queue in arrival order."""
    counted = waits(run)[run.arrivals.at_s >= run.scenario.warmup_s]
    counted = counted[~np.isnan(counted)]
    return {**kpis(run), "wait_within_sla_share": float((counted <= MMC_SLA_S).mean())}


@pytest.fixture(scope="module")
def mmc() -> Experiment:
    # M/M/2 at load 0.4: about 8,700 items per replication. Low load gives the most precision per simulated item
    # (the relaxation time 1 / (mu (1 - sqrt(rho))^2) is 7 service times).
    scenario = mm_c(servers=2, load=0.4, horizon_s=650_000.0, warmup_s=5_000.0, replications=20)
    return run_experiment(scenario, workers=2, measure=_kpis_and_wait_within_sla)


@pytest.mark.slow
def test_mmc_mean_wait_matches_erlang_c(mmc: Experiment) -> None:
    expected = theory.mm_c_mean_wait(2, 0.4 * 2 / 60.0, 1 / 60.0)
    estimate = mmc.estimates()["overall.wait_mean_s"]
    assert estimate.contains(expected), (estimate, expected)
    assert estimate.mean == pytest.approx(expected, rel=0.03)


@pytest.mark.slow
def test_mmc_serves_in_arrival_order(mmc: Experiment) -> None:
    """The mean wait is the same in any serving order; its distribution is Erlang C's only first come, first served
    (a probe serving the newest first, 6 replications: mean wait 11.7 +- 0.9 s, Erlang C 11.4 s, but 0.943 +- 0.003
    waited at most 60 s against Erlang C's 0.931, and 0.566 +- 0.004 were decided within it against 0.556). The SLA
    attainment, decided within `sla_s`, is the FIFO sojourn `P(W + S <= t)`."""
    lam, mu = 0.4 * 2 / 60.0, 1 / 60.0
    estimates = mmc.estimates()
    waited = estimates["wait_within_sla_share"]
    assert waited.contains(theory.mm_c_service_level(2, lam, mu, MMC_SLA_S)), waited
    decided = estimates["overall.sla_attainment"]
    assert decided.contains(theory.mm_c_sojourn_within(2, lam, mu, MMC_SLA_S)), decided


@pytest.mark.slow
def test_mmc_little_and_engine_backlog(mmc: Experiment) -> None:
    _little_holds_on_every_run(mmc)
    estimates = mmc.estimates()
    # The engine's sampled queue depth estimates the same time average as its integrated one.
    engine, exact = estimates["queue.main.backlog_mean"], estimates["overall.engine_backlog_mean"]
    assert engine.mean == pytest.approx(exact.mean, rel=0.15)
    times, counts = backlog_curve(mmc.first_run)
    assert counts.min() == 0 and counts[-1] >= 0 and np.all(np.diff(times) >= 0)


@pytest.mark.slow
def test_erlang_a_with_abandonment() -> None:
    servers, lam, mu, theta = 2, 2 / 60.0, 1 / 60.0, 1 / 300.0
    scenario = mm_c(
        servers=servers, load=1.0, horizon_s=50_000.0, warmup_s=4_000.0, replications=10, arrival={"patience_s": 300}
    )
    experiment = run_experiment(scenario, workers=2)
    expected = theory.erlang_a(servers, lam, mu, theta)
    estimates = experiment.estimates()
    assert estimates["overall.wait_mean_s"].contains(expected.mean_wait), (estimates["overall.wait_mean_s"], expected)
    assert estimates["overall.abandoned_share"].contains(expected.p_abandon)
    assert estimates["overall.utilisation"].contains(expected.utilisation)
    _little_holds_on_every_run(experiment)


@pytest.mark.slow
def test_two_priority_classes_match_cobham() -> None:
    scenario = mm_c(
        servers=1,
        horizon_s=250_000.0,
        warmup_s=10_000.0,
        replications=10,
        strategy="priority",
        ops={
            "priority": {"views": 0.0, "per_report": 0.0, "deadline": 0.0, "source": {"user_report": 1000.0}},
            "policy_areas": [{"name": "spam", "severity": 1.0}],
            "queues": [{"name": "main", "sla_s": 300, "aging_rate": 0.0}],
            "rules": [{"name": "everything", "queue": "main"}],
        },
        arrivals=[
            {
                "name": "reports",
                "rate_per_hour": 36,
                "modality": {"text": 1},
                "language": {"en": 1},
                "region": {"us": 1},
                "source": {"user_report": 1},
            },
            {
                "name": "proactive",
                "rate_per_hour": 30,
                "modality": {"photo": 1},
                "language": {"en": 1},
                "region": {"us": 1},
            },
        ],
        group={
            "modalities": ["text", "photo"],
            "policy_areas": ["spam"],
            "speed": {
                "text": {"distribution": "exponential", "mean_s": 30},
                "photo": {"distribution": "exponential", "mean_s": 60},
            },
        },
    )
    experiment = run_experiment(scenario, workers=2)
    means = [30.0, 60.0]
    expected = theory.cobham_mean_waits([36.0 / 3600.0, 30.0 / 3600.0], means, [2.0 * mean**2 for mean in means])
    estimates = experiment.estimates()
    for name, value in zip(("reports", "proactive"), expected, strict=True):
        estimate = estimates[f"stream.{name}.wait_mean_s"]
        assert estimate.contains(value), (name, estimate, value)
    _little_holds_on_every_run(experiment)
