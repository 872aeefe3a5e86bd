import math
from collections.abc import Callable

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.integrate import quad
from scipy.linalg import expm
from scipy.stats import poisson

from queueopt.sim.theory import (
    cobham_mean_waits,
    decision_sla_ceiling,
    erlang_a,
    erlang_a_decided_within,
    erlang_a_service_level,
    erlang_a_sojourn_within,
    erlang_a_within,
    erlang_b,
    erlang_c,
    mm_c_mean_wait,
    mm_c_service_level,
    mm_c_sojourn_exceeds,
    mm_c_sojourn_within,
    mm_c_wait_exceeds,
    mm_c_wait_quantile,
    pooled_decided_within,
    servers_for_decision_sla,
    servers_for_mean_wait,
    servers_for_pooled_decision_sla,
    servers_for_sla,
)


def test_erlang_c_textbook_values() -> None:
    assert erlang_c(2, 1.0, 1.0) == pytest.approx(1 / 3)
    assert mm_c_mean_wait(2, 1.0, 1.0) == pytest.approx(1 / 3)
    # M/M/1: C = rho, Wq = rho / (mu - lam).
    assert erlang_c(1, 0.8, 1.0) == pytest.approx(0.8)
    assert mm_c_mean_wait(1, 0.8, 1.0) == pytest.approx(4.0)
    # Erlang B for c = 3, a = 2: (8/6) / (1 + 2 + 2 + 8/6) = 4/19.
    assert erlang_b(3, 2.0, 1.0) == pytest.approx(4 / 19)


def test_erlang_c_against_the_factorial_formula() -> None:
    servers, load = 10, 9.0
    terms = [load**k / math.factorial(k) for k in range(servers)]
    top = load**servers / math.factorial(servers) * servers / (servers - load)
    assert erlang_c(servers, load, 1.0) == pytest.approx(top / (sum(terms) + top), rel=1e-12)


def test_erlang_c_is_finite_for_thousands_of_servers() -> None:
    waiting = erlang_c(5000, 4950.0, 1.0)
    assert 0.0 < waiting < 1.0
    assert math.isfinite(mm_c_mean_wait(5000, 4950.0, 1.0))


def test_waiting_time_law() -> None:
    servers, lam, mu = 2, 1.0, 1.0
    assert mm_c_wait_exceeds(servers, lam, mu, 0.0) == pytest.approx(1 / 3)
    assert mm_c_wait_exceeds(servers, lam, mu, 2.0) == pytest.approx(math.exp(-2.0) / 3)
    assert mm_c_service_level(servers, lam, mu, 2.0) == pytest.approx(1 - math.exp(-2.0) / 3)
    assert mm_c_wait_quantile(servers, lam, mu, 0.5) == 0.0
    t = mm_c_wait_quantile(servers, lam, mu, 0.9)
    assert mm_c_service_level(servers, lam, mu, t) == pytest.approx(0.9)


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: erlang_c(2, 2.0, 1.0), "unstable"),
        (lambda: erlang_c(0, 0.5, 1.0), "servers"),
        (lambda: erlang_c(2, -1.0, 1.0), "arrival rate"),
        (lambda: erlang_c(2, 1.0, 0.0), "service rate"),
        (lambda: mm_c_wait_exceeds(2, 1.0, 1.0, -1.0), "t must"),
        (lambda: mm_c_wait_quantile(2, 1.0, 1.0, 1.0), "quantile"),
        (lambda: erlang_a(2, 1.0, 1.0, 0.0), "patience"),
        (lambda: cobham_mean_waits([0.5, 0.5], [1.0, 1.0], [2.0, 2.0]), "unstable"),
        (lambda: cobham_mean_waits([0.5], [1.0], [0.5]), "second moment"),
        (lambda: cobham_mean_waits([0.5], [1.0, 2.0], [2.0]), "one arrival rate"),
        (lambda: servers_for_sla(1.0, 1.0, 10.0, 1.0), "target_fraction"),
        (lambda: servers_for_decision_sla(1.0, 1.0, 10.0, 1.5), "target_fraction"),
        (lambda: servers_for_decision_sla(1.0, 1.0, -1.0, 0.5), "sla_s"),
        (lambda: mm_c_sojourn_exceeds(2, 1.0, 1.0, -1.0), "t must"),
        (lambda: servers_for_mean_wait(1.0, 1.0, 0.0), "target_mean_wait_s"),
    ],
)
def test_bad_arguments_are_refused(call: object, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        call()  # type: ignore[operator]


def test_erlang_a_tends_to_erlang_c_as_patience_grows() -> None:
    servers, lam, mu = 5, 4.0, 1.0
    patient = erlang_a(servers, lam, mu, 1e-7)
    assert patient.p_wait == pytest.approx(erlang_c(servers, lam, mu), rel=1e-4)
    assert patient.mean_wait == pytest.approx(mm_c_mean_wait(servers, lam, mu), rel=1e-4)
    assert patient.p_abandon < 1e-6
    level = erlang_a_service_level(servers, lam, mu, 1e-7, 0.5)
    assert level == pytest.approx(mm_c_service_level(servers, lam, mu, 0.5), rel=1e-5)


def test_erlang_a_with_patience_rate_equal_to_service_rate_is_m_m_infinity() -> None:
    # Death rate n mu for every n: the number in system is Poisson(lam / mu).
    servers, lam, mu = 3, 5.0, 2.0
    result = erlang_a(servers, lam, mu, mu)
    load = lam / mu
    n = np.arange(200)
    queue = float(np.dot(np.maximum(n - servers, 0), poisson.pmf(n, load)))
    assert result.p_wait == pytest.approx(float(poisson.sf(servers - 1, load)), rel=1e-9)
    assert result.mean_queue == pytest.approx(queue, rel=1e-9)
    assert result.p_abandon == pytest.approx(mu * queue / lam, rel=1e-9)
    busy = float(np.dot(np.minimum(n, servers), poisson.pmf(n, load)))
    assert result.utilisation == pytest.approx(busy / servers, rel=1e-9)


def test_erlang_a_is_stable_in_overload_and_conserves_flow() -> None:
    servers, lam, mu, theta = 10, 30.0, 1.0, 0.5
    result = erlang_a(servers, lam, mu, theta)
    served = result.utilisation * servers * mu
    assert served + result.p_abandon * lam == pytest.approx(lam, rel=1e-9)
    assert result.p_wait > 0.99


def _tagged_arrival_by_matrix_exponential(
    servers: int, lam: float, mu: float, theta: float, t: float, depth: int
) -> tuple[float, float, float]:
    """Reference: the tagged arrival's chain (k ahead, in service, decided, abandoned) solved with a dense matrix
    exponential; returns the shares still waiting, served (in service or decided) and decided at `t`."""
    n = np.arange(servers + depth)
    deaths = np.minimum(n[1:], servers) * mu + np.maximum(n[1:] - servers, 0) * theta
    log_p = np.concatenate([[0.0], np.cumsum(np.log(lam) - np.log(deaths))])
    arrival_state = np.exp(log_p - log_p.max())
    arrival_state /= arrival_state.sum()
    ahead = arrival_state[servers:]
    size = ahead.size
    in_service, decided, abandoned = size, size + 1, size + 2
    generator = np.zeros((size + 3, size + 3))
    for k in range(size):
        move = servers * mu + k * theta
        generator[k, k] = -(move + theta)
        generator[k, k - 1 if k else in_service] = move
        generator[k, abandoned] = theta
    generator[in_service, in_service], generator[in_service, decided] = -mu, mu
    start = np.concatenate([ahead, [arrival_state[:servers].sum(), 0.0, 0.0]])
    law = start @ expm(generator * t)
    return float(law[:size].sum()), float(law[in_service] + law[decided]), float(law[decided])


@pytest.mark.parametrize(("lam", "theta", "t"), [(3.0, 0.3, 0.7), (6.0, 1.5, 2.0), (1.0, 0.05, 0.1)])
def test_erlang_a_waiting_law_matches_the_tagged_chain(lam: float, theta: float, t: float) -> None:
    servers, mu = 4, 1.0
    waiting, served, _ = _tagged_arrival_by_matrix_exponential(servers, lam, mu, theta, t, depth=120)
    within = erlang_a_within(servers, lam, mu, theta, t)
    assert within.waiting == pytest.approx(waiting, abs=1e-10)
    assert within.served == pytest.approx(served, abs=1e-10)
    assert within.waiting + within.served + within.abandoned == pytest.approx(1.0)


def _sojourn_exceeds_by_convolution(servers: int, lam: float, mu: float, t: float) -> float:
    """Reference: `P(W + S > t)` by integrating the handling tail against the waiting-time law numerically."""
    theta = servers * mu - lam
    waiting = erlang_c(servers, lam, mu)

    def density(w: float) -> float:  # the waiting time's continuous part, C theta exp(-theta w)
        return waiting * theta * math.exp(-theta * w)

    late_after_waiting, _ = quad(lambda w: density(w) * math.exp(-mu * (t - w)), 0.0, t, epsabs=1e-14, epsrel=1e-12)
    return (1.0 - waiting) * math.exp(-mu * t) + late_after_waiting + mm_c_wait_exceeds(servers, lam, mu, t)


@pytest.mark.parametrize(
    ("servers", "lam", "mu", "t"),
    [
        (2, 1.0, 1.0, 2.0),  # theta = 1 = mu: the equal-rate branch
        (2, 1.0 - 1e-9, 1.0, 2.0),  # theta a hair above mu, where the textbook quotient cancels
        (10, 9.0, 1.0, 1.0),  # heavy load, theta well below mu
        (40, 10.0, 1.0, 0.3),  # light load, theta far above mu
        (1, 0.8, 1.0, 0.0),  # t = 0: every item is late
    ],
)
def test_sojourn_tail_matches_numerical_convolution(servers: int, lam: float, mu: float, t: float) -> None:
    exceeds = mm_c_sojourn_exceeds(servers, lam, mu, t)
    assert exceeds == pytest.approx(_sojourn_exceeds_by_convolution(servers, lam, mu, t), abs=1e-10)
    assert mm_c_sojourn_within(servers, lam, mu, t) == pytest.approx(1.0 - exceeds, abs=1e-12)


def test_sojourn_matches_monte_carlo() -> None:
    # W + S drawn directly from its definition; four standard errors of a binomial share bound the miss.
    servers, lam, mu, t, n = 5, 4.0, 1.0, 2.0, 400_000
    rng = np.random.default_rng(20240607)
    waits = np.where(rng.random(n) < erlang_c(servers, lam, mu), rng.exponential(1 / (servers * mu - lam), n), 0.0)
    share = float(np.mean(waits + rng.exponential(1 / mu, n) <= t))
    expected = mm_c_sojourn_within(servers, lam, mu, t)
    assert abs(share - expected) < 4.0 * math.sqrt(expected * (1.0 - expected) / n)


@pytest.mark.parametrize(("lam", "theta", "t"), [(3.0, 0.3, 0.7), (6.0, 1.5, 2.0), (1.0, 0.05, 0.1), (5.0, 2.5, 3.0)])
def test_erlang_a_sojourn_matches_the_tagged_chain(lam: float, theta: float, t: float) -> None:
    # theta = 0.3 and 0.05 make the Beta ratio grow with the queue, 1.5 and 2.5 make it shrink.
    servers, mu = 4, 1.0
    _, _, decided = _tagged_arrival_by_matrix_exponential(servers, lam, mu, theta, t, depth=120)
    served_share = 1.0 - erlang_a(servers, lam, mu, theta).p_abandon
    assert erlang_a_sojourn_within(servers, lam, mu, theta, t) == pytest.approx(decided / served_share, abs=1e-10)
    assert erlang_a_decided_within(servers, lam, mu, theta, t) == pytest.approx(decided, abs=1e-10)


def test_a_staffing_plan_with_patience_cannot_meet_its_target_by_letting_items_abandon() -> None:
    """20 Erlangs of work, patience of 10 s: among served items one moderator decides 82% within two minutes, but
    95% of the items abandon. Counting an abandoned item as a miss, the plan needs a real team."""
    lam, mu, theta, sla = 1 / 3, 1 / 60, 0.1, 120.0
    assert erlang_a_sojourn_within(1, lam, mu, theta, sla) >= 0.8
    assert erlang_a(1, lam, mu, theta).p_abandon > 0.9
    servers = servers_for_decision_sla(lam, mu, sla, 0.8, patience_rate=theta)
    assert servers is not None and servers > lam / mu * 0.8
    assert (
        erlang_a_decided_within(servers, lam, mu, theta, sla)
        >= 0.8
        > erlang_a_decided_within(servers - 1, lam, mu, theta, sla)
    )


def test_erlang_a_sojourn_tends_to_erlang_c_as_patience_grows() -> None:
    servers, lam, mu, t = 5, 4.0, 1.0, 1.5
    patient = erlang_a_sojourn_within(servers, lam, mu, 1e-7, t)
    assert patient == pytest.approx(mm_c_sojourn_within(servers, lam, mu, t), rel=1e-5)
    assert erlang_a_sojourn_within(servers, 0.0, mu, 0.5, t) == pytest.approx(decision_sla_ceiling(mu, t))


def test_decision_sla_beyond_the_handling_time_is_unreachable() -> None:
    lam, mu = 0.15, 1 / 60  # the mmc example: nine servers' worth of load, 60 s handling
    assert decision_sla_ceiling(mu, 60.0) == pytest.approx(1 - math.exp(-1))
    assert servers_for_decision_sla(lam, mu, 60.0, 0.8) is None
    assert servers_for_decision_sla(lam, mu, 60.0, 0.8, patience_rate=1 / 300) is None
    assert servers_for_decision_sla(lam, mu, 3600.0, 1.0) is None  # 1.0 needs handling that never runs long
    assert servers_for_decision_sla(0.0, mu, 60.0, 1.0) == 0  # nothing arrives, nothing misses
    servers = servers_for_decision_sla(lam, mu, 120.0, 0.8)
    assert servers is not None
    # The wait-only plan is one short: it ignores the two minutes handling itself takes.
    assert servers == servers_for_sla(lam, mu, 120.0, 0.8) + 1
    assert mm_c_sojourn_within(servers, lam, mu, 120.0) >= 0.8 > mm_c_sojourn_within(servers - 1, lam, mu, 120.0)


def test_cobham_single_class_is_m_m_1() -> None:
    lam, mu = 0.6, 1.0
    [wait] = cobham_mean_waits([lam], [1 / mu], [2 / mu**2])
    assert wait == pytest.approx(mm_c_mean_wait(1, lam, mu))


def test_cobham_two_classes_conserve_work() -> None:
    # Kleinrock's conservation law: sum rho_k W_k is the same under any work-conserving non-preemptive order.
    lams, means, seconds = [0.01, 30 / 3600], [30.0, 60.0], [1800.0, 7200.0]
    waits = cobham_mean_waits(lams, means, seconds)
    assert waits == pytest.approx([39 / 0.7, 39 / (0.7 * 0.2)])
    loads = [lam * mean for lam, mean in zip(lams, means, strict=True)]
    total = sum(loads)
    fifo_wait = 39 / (1 - total)
    assert sum(load * wait for load, wait in zip(loads, waits, strict=True)) == pytest.approx(total * fifo_wait)


def test_staffing_examples() -> None:
    # 100 items per minute, 3-minute reviews: offered load 300.
    lam, mu = 100 / 60, 1 / 180
    servers = servers_for_sla(lam, mu, 60.0, 0.8)
    assert mm_c_service_level(servers, lam, mu, 60.0) >= 0.8
    assert mm_c_service_level(servers - 1, lam, mu, 60.0) < 0.8
    patient = servers_for_sla(lam, mu, 60.0, 0.8, patience_rate=1 / 600)
    assert patient <= servers
    assert erlang_a_service_level(patient, lam, mu, 1 / 600, 60.0) >= 0.8
    assert erlang_a_service_level(patient - 1, lam, mu, 1 / 600, 60.0) < 0.8
    assert servers_for_sla(0.0, mu, 60.0, 0.8) == 0


@settings(max_examples=40, deadline=None)
@given(
    servers=st.integers(1, 60),
    utilisation=st.floats(0.01, 0.99),
)
def test_erlang_c_is_a_probability_and_falls_with_more_servers(servers: int, utilisation: float) -> None:
    lam = utilisation * servers
    waiting = erlang_c(servers, lam, 1.0)
    assert 0.0 <= waiting <= 1.0
    assert erlang_c(servers + 1, lam, 1.0) <= waiting
    assert erlang_b(servers, lam, 1.0) <= waiting


LOADS = st.floats(0.1, 200.0)
PATIENCE = st.none() | st.floats(0.05, 5.0)


def _minimal(servers: int, level: Callable[[int], float], target: float) -> None:
    """`servers` meets the target and one fewer does not."""
    assert level(servers) >= target
    assert servers == 1 or level(servers - 1) < target


@settings(max_examples=25, deadline=None)
@given(load=LOADS, wait=st.floats(0.0, 5.0), target=st.floats(0.05, 0.99), patience=PATIENCE)
def test_staffing_is_minimal(load: float, wait: float, target: float, patience: float | None) -> None:
    def level(c: int) -> float:
        if patience is None:
            return mm_c_service_level(c, load, 1.0, wait) if c > load else 0.0
        return erlang_a_service_level(c, load, 1.0, patience, wait)

    _minimal(servers_for_sla(load, 1.0, wait, target, patience_rate=patience), level, target)


@settings(max_examples=25, deadline=None)
@given(load=LOADS, sla=st.floats(0.05, 10.0), target=st.floats(0.05, 1.0), patience=PATIENCE)
def test_decision_staffing_is_minimal_or_unreachable(
    load: float, sla: float, target: float, patience: float | None
) -> None:
    servers = servers_for_decision_sla(load, 1.0, sla, target, patience_rate=patience)
    if servers is None:
        assert target >= decision_sla_ceiling(1.0, sla)
        return

    def level(c: int) -> float:
        if patience is None:
            return mm_c_sojourn_within(c, load, 1.0, sla) if c > load else 0.0
        return erlang_a_decided_within(c, load, 1.0, patience, sla)

    _minimal(servers, level, target)


@settings(max_examples=25, deadline=None)
@given(load=st.floats(0.1, 100.0), target=st.floats(0.01, 10.0), patience=st.none() | st.floats(0.05, 5.0))
def test_mean_wait_staffing_is_minimal(load: float, target: float, patience: float | None) -> None:
    servers = servers_for_mean_wait(load, 1.0, target, patience_rate=patience)

    def mean_wait(c: int) -> float:
        if patience is None:
            return mm_c_mean_wait(c, load, 1.0) if c > load else math.inf
        return erlang_a(c, load, 1.0, patience).mean_wait

    assert mean_wait(servers) <= target
    assert servers == 1 or mean_wait(servers - 1) > target


def test_a_mean_wait_exactly_at_the_target_meets_it() -> None:
    """The target is a most: a size whose mean wait equals it is enough, and one more moderator is a cost."""
    assert servers_for_mean_wait(1.0, 1.0, mm_c_mean_wait(2, 1.0, 1.0)) == 2
    assert servers_for_mean_wait(1.0, 1.0, erlang_a(2, 1.0, 1.0, 0.5).mean_wait, patience_rate=0.5) == 2


def test_numpy_server_counts_and_zero_arrivals() -> None:
    assert erlang_c(np.int64(2), 1.0, 1.0) == pytest.approx(1 / 3)  # type: ignore[arg-type]
    assert erlang_c(3, 0.0, 1.0) == 0.0
    assert mm_c_wait_quantile(3, 0.0, 1.0, 0.99) == 0.0
    idle = erlang_a(3, 0.0, 1.0, 0.5)
    assert (idle.p_wait, idle.p_abandon, idle.mean_wait) == (0.0, 0.0, 0.0)
    assert erlang_a_within(3, 0.0, 1.0, 0.5, 1.0).served == 1.0


def test_staffing_at_an_integer_offered_load_starts_above_it() -> None:
    # lam / mu is exactly 9: nine servers are unstable, the search must not call Erlang C there.
    assert servers_for_sla(0.15, 0.15 / 9, 0.0, 0.05) >= 10
    assert servers_for_mean_wait(9.0, 1.0, 1.0) >= 10


@given(
    servers=st.integers(1, 60),
    load=st.floats(0.05, 0.98),
    mean_s=st.floats(1.0, 600.0),
    t=st.floats(0.0, 5000.0),
    parts=st.integers(1, 4),
)
def test_a_pool_of_one_kind_of_work_is_erlang_c(servers: int, load: float, mean_s: float, t: float, parts: int) -> None:
    # Splitting one exponential stream into classes of the same handling changes nothing: squared CV 1, Erlang C.
    lam = load * servers / mean_s
    shares = pooled_decided_within(servers, [lam / parts] * parts, [mean_s] * parts, t)
    assert shares == pytest.approx([mm_c_sojourn_within(servers, lam, 1 / mean_s, t)] * parts, abs=1e-12)


def test_a_pool_waits_longer_with_mixed_work_and_its_slow_class_misses_first() -> None:
    lams, means = [0.1, 0.01], [20.0, 250.0]
    text, video = pooled_decided_within(7, lams, means, 600.0)
    assert video < text
    # One exponential server at the 40.9 s mixture mean is the old, optimistic model of the pool.
    mean = (0.1 * 20 + 0.01 * 250) / 0.11
    video_if_exponential = -math.expm1(-600 / 250) - erlang_c(7, 0.11, 1 / mean) / 250 * (
        (math.exp(-600 / 250) - math.exp(-(7 / mean - 0.11) * 600)) / (7 / mean - 0.11 - 1 / 250)
    )
    assert video < video_if_exponential
    assert servers_for_pooled_decision_sla(lams, means, 600.0, 0.9) == 7
    assert servers_for_pooled_decision_sla(lams, means, 600.0, 0.95) is None  # video's ceiling is 0.909
    assert servers_for_pooled_decision_sla([0.0, 0.0], means, 600.0, 0.9) == 0


def test_a_pool_whose_load_rounds_to_a_whole_number_of_erlangs_is_sized_not_refused() -> None:
    # Found by a probe: 7,380 items an hour of 60 s is 123 Erlangs, computed as 122.99999999999999, so the search
    # started at 123 servers and erlang_c refused it as unstable (`queueopt staff` printed a traceback).
    assert 2.05 * 60.0 < 123.0
    assert servers_for_pooled_decision_sla([2.05], [60.0], 600.0, 0.8) == servers_for_decision_sla(
        2.05, 1 / 60.0, 600.0, 0.8
    )


def test_every_pool_of_whole_erlangs_that_rounds_down_is_sized_as_its_dedicated_team() -> None:
    # Brute force over whole loads of handling times that divide an hour: every rate an hour whose load rounds
    # below the whole number (where a search from `floor(load) + 1` tries an unstable size first) is sized, and
    # with one kind of work the pool is Erlang C's own size.
    rounded_down = [
        (per_hour / 3600.0, float(mean_s))
        for mean_s in (3, 6, 8, 9, 10, 12, 15, 18, 20, 24, 30, 36, 40, 45, 48, 60, 72, 75, 80, 90, 100, 120)
        for per_hour in range(3600 // mean_s, 1000 * 3600 // mean_s, 3600 // mean_s)
        if per_hour / 3600.0 * mean_s < round(per_hour / 3600.0 * mean_s)
    ]
    assert len(rounded_down) > 20
    for lam, mean_s in rounded_down:
        pooled = servers_for_pooled_decision_sla([lam / 2, lam / 2], [mean_s, mean_s], 1200.0, 0.8)
        assert pooled == servers_for_decision_sla(lam, 1 / mean_s, 1200.0, 0.8), (lam, mean_s)
