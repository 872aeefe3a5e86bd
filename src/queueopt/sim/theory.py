"""Closed-form queueing results the simulator is validated against and the staffing planner sizes queues with.

Every formula here is textbook; what matters is computing it without overflow for thousands of servers:

* Erlang C goes through the Erlang B recursion `B(k) = a B(k-1) / (k + a B(k-1))`, which never forms `a^c / c!`
  (Cooper, *Introduction to Queueing Theory*, 2nd ed., 1981, sections 3.4-3.5; Gross, Shortle, Thompson and
  Harris, *Fundamentals of Queueing Theory*, 4th ed., 2008, section 2.3 for the M/M/c waiting-time law).
* Erlang A (M/M/c+M, exponential patience) follows Palm (1943) and Garnett, Mandelbaum and Reiman, "Designing a
  call center with impatient customers", MSOM 4(3), 2002. Instead of their incomplete-gamma expressions we solve the
  same birth-death chain directly in log space, truncated once the tail is below `exp(-40)` of the mode: exact to
  double precision, valid for overload (`lam >= c mu`) and stable for any size.
* Sojourn time (arrival to end of service, the time to decision the product's SLA counts) for both: M/M/c mixes
  the atom and exponential tail of the wait with an independent `Exp(mu)` handling time (a hypoexponential tail);
  Erlang A integrates the handling time against the same Beta law the waiting time uses, in closed form.
* Cobham's non-preemptive priority formula for M/G/1 (Cobham, "Priority assignment in waiting line problems",
  JORSA 2(1), 1954; Kleinrock, *Queueing Systems* vol. 2, 1976, section 3.6).

Rates are per second and times in seconds throughout, like the engine's clock; only the ratios matter.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from scipy.special import betainc, betaincc

_TAIL_NATS = 40.0
_MAX_STATES = 20_000_000
_MAX_SERVERS = 10_000_000


class StateSpaceTooLarge(ValueError):
    """Erlang A's chain needs more than `_MAX_STATES` states: patience so long against an overload that the queue
    holds tens of millions. Its own type, so a planner can fall back to Erlang C, the limit of very long patience."""


def _check_rates(servers: int, lam: float, mu: float) -> None:
    if isinstance(servers, bool) or not isinstance(servers, int | np.integer) or servers < 1:
        raise ValueError(f"servers must be a positive integer, got {servers!r}")
    if not (math.isfinite(lam) and lam >= 0.0):
        raise ValueError(f"arrival rate must be finite and non-negative, got {lam!r}")
    if not (math.isfinite(mu) and mu > 0.0):
        raise ValueError(f"service rate must be finite and positive, got {mu!r}")


def _stable(servers: int, lam: float, mu: float) -> bool:
    """`c mu > lam`, the very test `_check_stable` applies: a search asks it before any stable-only formula, since a
    floor computed from the load in another order of operations can land on `c = lam / mu` (a load of
    122.99999999999999 Erlangs starts the search at 123, which `erlang_c` refuses)."""
    return lam < servers * mu


def _check_stable(servers: int, lam: float, mu: float) -> None:
    _check_rates(servers, lam, mu)
    if not _stable(servers, lam, mu):
        raise ValueError(f"unstable: arrival rate {lam} >= servers * service rate {servers * mu}")


def _check_time(t: float, name: str = "t") -> None:
    if not (math.isfinite(t) and t >= 0.0):
        raise ValueError(f"{name} must be finite and non-negative, got {t!r}")


def erlang_b(servers: int, lam: float, mu: float) -> float:
    """Blocking probability of M/M/c/c; the building block that keeps Erlang C free of factorials."""
    _check_rates(servers, lam, mu)
    load = lam / mu
    blocking = 1.0
    for k in range(1, servers + 1):
        blocking = load * blocking / (k + load * blocking)
    return blocking


def erlang_c(servers: int, lam: float, mu: float) -> float:
    """Probability that an arrival to a stable M/M/c queue has to wait (`C(c, a)`, a = lam / mu)."""
    _check_stable(servers, lam, mu)
    load = lam / mu
    blocking = erlang_b(servers, lam, mu)
    return servers * blocking / (servers - load * (1.0 - blocking))


def mm_c_mean_wait(servers: int, lam: float, mu: float) -> float:
    """Mean time in queue `Wq = C / (c mu - lam)` of a stable M/M/c queue."""
    return erlang_c(servers, lam, mu) / (servers * mu - lam)


def mm_c_wait_exceeds(servers: int, lam: float, mu: float, t: float) -> float:
    """`P(W > t) = C exp(-(c mu - lam) t)`: FIFO waiting time is an atom at 0 plus an exponential tail."""
    _check_time(t)
    return erlang_c(servers, lam, mu) * math.exp(-(servers * mu - lam) * t)


def mm_c_service_level(servers: int, lam: float, mu: float, t: float) -> float:
    """`P(W <= t)`, the share of arrivals that start service within `t` seconds."""
    return 1.0 - mm_c_wait_exceeds(servers, lam, mu, t)


def _exponential_gap(a: float, b: float, t: float) -> float:
    """`(exp(-a t) - exp(-b t)) / (b - a)`, symmetric in `a` and `b` and `t exp(-a t)` when they are equal.

    Factoring out the slower exponential and using `expm1` keeps it exact when `a` and `b` nearly coincide, where
    the textbook quotient cancels to noise; a staffing search lands on `c mu - lam = mu` whenever `lam / mu` is an
    integer.
    """
    low, gap = min(a, b), abs(b - a)
    if gap == 0.0:
        return t * math.exp(-low * t)
    return math.exp(-low * t) * -math.expm1(-gap * t) / gap


def mm_c_sojourn_exceeds(servers: int, lam: float, mu: float, t: float) -> float:
    """`P(W + S > t)`, the time from arrival to end of service of a stable FIFO M/M/c queue.

    `W` is 0 with probability `1 - C`, else `Exp(theta)` with `theta = c mu - lam`, and `S ~ Exp(mu)` is
    independent of it, so `P(T > t) = (1 - C) exp(-mu t) + C P(Exp(theta) + S > t)`, whose hypoexponential tail
    `(theta exp(-mu t) - mu exp(-theta t)) / (theta - mu)` folds to `exp(-mu t) + C mu gap(theta, mu, t)`.
    """
    _check_time(t)
    waiting = erlang_c(servers, lam, mu)
    return math.exp(-mu * t) + waiting * mu * _exponential_gap(servers * mu - lam, mu, t)


def mm_c_sojourn_within(servers: int, lam: float, mu: float, t: float) -> float:
    """`P(W + S <= t)`: the share of items decided within `t` seconds of arriving."""
    _check_time(t)
    waiting = erlang_c(servers, lam, mu)
    return -math.expm1(-mu * t) - waiting * mu * _exponential_gap(servers * mu - lam, mu, t)


def mm_c_wait_quantile(servers: int, lam: float, mu: float, q: float) -> float:
    """The `q`-quantile of the waiting time: 0 while the atom at zero (probability 1 - C) covers it."""
    if not 0.0 <= q < 1.0:
        raise ValueError(f"quantile must be in [0, 1), got {q!r}")
    waiting = erlang_c(servers, lam, mu)
    if q <= 1.0 - waiting:
        return 0.0
    return math.log(waiting / (1.0 - q)) / (servers * mu - lam)


@dataclass(frozen=True, slots=True)
class ErlangA:
    """Steady state of M/M/c+M. Waits count every arrival, including those that abandon and those never queued."""

    p_wait: float
    p_abandon: float
    mean_wait: float
    mean_queue: float
    utilisation: float


def _check_patience(theta: float) -> None:
    if not (math.isfinite(theta) and theta > 0.0):
        raise ValueError(f"patience rate must be finite and positive, got {theta!r}")


@lru_cache(maxsize=256)
def _erlang_a_distribution(servers: int, lam: float, mu: float, theta: float) -> np.ndarray:
    """Stationary distribution of the number in system, truncated where the tail is negligible.

    Beyond `c` the death rate `c mu + (n - c) theta` grows without bound, so the chain is positive recurrent for
    any arrival rate and the log-probabilities fall off super-geometrically once deaths outpace births.
    """
    if lam == 0.0:
        return np.array([1.0])
    if servers + (lam - servers * mu) / theta > _MAX_STATES:
        # deaths overtake births only past this state, so the chain cannot be cut short of it: say so before
        # building twenty million states
        raise StateSpaceTooLarge("Erlang A state space too large; patience rate is too small for this overload")
    log_lam = math.log(lam)
    chunk = max(1024, 2 * servers)
    logs = [np.zeros(1)]
    last, peak, start = 0.0, 0.0, 1
    while True:
        n = np.arange(start, start + chunk, dtype=float)
        deaths = np.minimum(n, servers) * mu + np.maximum(n - servers, 0.0) * theta
        block = last + np.cumsum(log_lam - np.log(deaths))
        logs.append(block)
        last = float(block[-1])
        peak = max(peak, float(block.max()))
        start += chunk
        if deaths[-1] > lam and last < peak - _TAIL_NATS:
            break
        if start > _MAX_STATES:
            raise StateSpaceTooLarge("Erlang A state space too large; patience rate is too small for this overload")
    log_p = np.concatenate(logs)
    weights = np.exp(log_p - peak)
    distribution: np.ndarray = weights / weights.sum()
    distribution.setflags(write=False)
    return distribution


def erlang_a(servers: int, lam: float, mu: float, theta: float) -> ErlangA:
    """Performance of M/M/c+M: Little's law gives the mean wait `Lq / lam`, and since each waiting item abandons
    at rate `theta` the abandonment flow is `theta Lq`, so `P(abandon) = theta Lq / lam`."""
    _check_rates(servers, lam, mu)
    _check_patience(theta)
    distribution = _erlang_a_distribution(servers, lam, mu, theta)
    n = np.arange(distribution.size, dtype=float)
    mean_queue = float(np.dot(np.maximum(n - servers, 0.0), distribution))
    busy = float(np.dot(np.minimum(n, servers), distribution))
    p_wait = float(distribution[servers:].sum())
    if lam == 0.0:
        return ErlangA(p_wait=0.0, p_abandon=0.0, mean_wait=0.0, mean_queue=0.0, utilisation=0.0)
    return ErlangA(
        p_wait=p_wait,
        p_abandon=theta * mean_queue / lam,
        mean_wait=mean_queue / lam,
        mean_queue=mean_queue,
        utilisation=busy / servers,
    )


@dataclass(frozen=True, slots=True)
class ErlangAWithin:
    """Shares of all arrivals at waiting horizon `t`: still waiting, served by then, or abandoned by then."""

    waiting: float
    served: float
    abandoned: float


def _arrival_view(servers: int, lam: float, mu: float, theta: float) -> tuple[float, np.ndarray]:
    """What an arrival finds (PASTA): the chance of a free server, and the law of the number waiting ahead."""
    distribution = _erlang_a_distribution(servers, lam, mu, theta)
    return float(distribution[:servers].sum()), np.asarray(distribution[servers:], dtype=float)


def _served_within(ahead: int, m: float, p: float) -> np.ndarray:
    """`E[exp(-theta V) 1{V <= t}]` for `k = 0..ahead-1` waiting ahead: the share that reaches a server by `t`
    before its own patience runs out, `m / (m + k + 1) I_p(k + 1, m + 1)` by exponential tilting of the Beta law."""
    k = np.arange(ahead, dtype=float)
    served: np.ndarray = m / (m + k + 1.0) * betainc(k + 1.0, m + 1.0, p)
    return served


def erlang_a_within(servers: int, lam: float, mu: float, theta: float, t: float) -> ErlangAWithin:
    """Waiting-time law of M/M/c+M at horizon `t`, by following one tagged arrival.

    An arrival that finds `k` in queue enters service after `k + 1` departures from the head, which happen at rate
    `c mu + j theta` while `j` remain ahead, so its offered wait is `V = sum_{i=0..k} Exp(theta (m + i))` with
    `m = c mu / theta`. By the Renyi representation of exponential order statistics (checked through the Laplace
    transform, so `m` need not be an integer), `1 - exp(-theta V) ~ Beta(k + 1, m)`. Its own patience is an
    independent `Exp(theta)`, so `P(W > t) = exp(-theta t) P(V > t)`, and exponential tilting gives the share served
    within `t` as `m / (m + k + 1) I_p(k + 1, m + 1)` with `p = 1 - exp(-theta t)`. Mixing over the state an
    arrival finds (PASTA) yields the measures Mandelbaum and Zeltyn tabulate in "The M/M/n+G queue: summary of
    performance measures" (2009), with no numerical integration.
    """
    _check_rates(servers, lam, mu)
    _check_patience(theta)
    _check_time(t)
    immediate, ahead = _arrival_view(servers, lam, mu, theta)
    if ahead.size == 0:
        return ErlangAWithin(waiting=0.0, served=immediate, abandoned=0.0)
    k = np.arange(ahead.size, dtype=float)
    m = servers * mu / theta
    p = -math.expm1(-theta * t)
    offered_exceeds = betaincc(k + 1.0, m, p)
    waiting = math.exp(-theta * t) * float(np.dot(ahead, offered_exceeds))
    served = immediate + float(np.dot(ahead, _served_within(ahead.size, m, p)))
    return ErlangAWithin(waiting=waiting, served=served, abandoned=max(0.0, 1.0 - waiting - served))


def erlang_a_service_level(servers: int, lam: float, mu: float, theta: float, t: float) -> float:
    """`P(W <= t)` over all arrivals, W being the time actually spent waiting (until service or abandonment)."""
    return 1.0 - erlang_a_within(servers, lam, mu, theta, t).waiting


def erlang_a_sojourn_within(servers: int, lam: float, mu: float, theta: float, t: float) -> float:
    """`P(W + S <= t | served)` of M/M/c+M: the share of served items decided within `t` of arriving, abandoned
    items left out as the simulator's `sla_attainment` leaves them out."""
    return erlang_a_decided_within(servers, lam, mu, theta, t) / (1.0 - erlang_a(servers, lam, mu, theta).p_abandon)


def erlang_a_decided_within(servers: int, lam: float, mu: float, theta: float, t: float) -> float:
    """`P(served and W + S <= t)` of M/M/c+M: the share of all arrivals decided within `t`, an abandoned item
    counting as a miss. This is what a staffing plan must meet: among served items alone, a plan that lets nearly
    every item abandon would look met.

    An item served after an offered wait `V <= t` is decided by `t` with probability
    `1 - exp(-mu (t - V))`, so for `k` waiting ahead the share decided is
    `E[exp(-theta V) 1{V <= t}] - exp(-mu t) E[exp(-(theta - mu) V) 1{V <= t}]`. With `U = 1 - exp(-theta V)` ~
    `Beta(k + 1, m)` the second expectation is `E[(1 - U)^s 1{U <= p}]`, `s = 1 - mu / theta`, which is
    `B(k + 1, m + s) / B(k + 1, m) I_p(k + 1, m + s)`: exact, with no integration (`m + s > 0` for `c >= 1`). The
    Beta ratio `prod_{i <= k} (m + i) / (m + s + i)` is summed in log space, since it overflows for long queues
    while its product with the incomplete Beta stays below 1.
    """
    _check_rates(servers, lam, mu)
    _check_patience(theta)
    _check_time(t)
    handled = -math.expm1(-mu * t)
    if lam == 0.0:
        return handled
    immediate, ahead = _arrival_view(servers, lam, mu, theta)
    k = np.arange(ahead.size, dtype=float)
    m = servers * mu / theta
    shifted = (servers - 1) * mu / theta + 1.0
    p = -math.expm1(-theta * t)
    log_ratio = np.cumsum(np.log1p((mu / theta - 1.0) / (shifted + k)))
    with np.errstate(divide="ignore"):
        late = np.exp(-mu * t + log_ratio + np.log(betainc(k + 1.0, shifted, p)))
    return immediate * handled + float(np.dot(ahead, _served_within(ahead.size, m, p) - late))


def cobham_mean_waits(
    lams: Sequence[float], mean_service_s: Sequence[float], second_moments: Sequence[float]
) -> list[float]:
    """Mean queueing delay per class of a non-preemptive priority M/G/1 queue, classes in priority order.

    `W_k = W0 / ((1 - sigma_{k-1}) (1 - sigma_k))` where `W0 = sum_i lam_i E[S_i^2] / 2` is the mean residual work
    an arrival finds in service and `sigma_k` the load of classes 1..k.
    """
    if not (len(lams) == len(mean_service_s) == len(second_moments)) or not lams:
        raise ValueError("need one arrival rate, mean service time and second moment per class")
    for lam, mean, second in zip(lams, mean_service_s, second_moments, strict=True):
        if not all(math.isfinite(value) and value >= 0.0 for value in (lam, mean, second)):
            raise ValueError("rates and moments must be finite and non-negative")
        if second < mean * mean:
            raise ValueError(f"second moment {second} is below the squared mean {mean * mean}")
    total = sum(lam * mean for lam, mean in zip(lams, mean_service_s, strict=True))
    if total >= 1.0:
        raise ValueError(f"unstable: total load {total} >= 1")
    residual = sum(lam * second for lam, second in zip(lams, second_moments, strict=True)) / 2.0
    waits = []
    above = 0.0
    for lam, mean in zip(lams, mean_service_s, strict=True):
        including = above + lam * mean
        waits.append(residual / ((1.0 - above) * (1.0 - including)))
        above = including
    return waits


def _service_level(servers: int, lam: float, mu: float, t: float, patience_rate: float | None) -> float:
    if patience_rate is None:
        return mm_c_service_level(servers, lam, mu, t) if _stable(servers, lam, mu) else 0.0
    return erlang_a_service_level(servers, lam, mu, patience_rate, t)


def _mean_wait(servers: int, lam: float, mu: float, patience_rate: float | None) -> float:
    if patience_rate is None:
        return mm_c_mean_wait(servers, lam, mu) if _stable(servers, lam, mu) else math.inf
    return erlang_a(servers, lam, mu, patience_rate).mean_wait


def _smallest(meets: Callable[[int], bool], lowest: int) -> int:
    """Smallest `c >= lowest` with `meets(c)`, for a predicate monotone in `c` (more servers never hurt)."""
    if meets(lowest):
        return lowest
    failing, passing = lowest, 2 * lowest
    while not meets(passing):
        if passing > _MAX_SERVERS:
            raise ValueError(f"target needs more than {_MAX_SERVERS} servers")
        failing, passing = passing, 2 * passing
    while passing - failing > 1:
        middle = (failing + passing) // 2
        if meets(middle):
            passing = middle
        else:
            failing = middle
    return passing


def _erlang_c_floor(lam: float, mu: float) -> int:
    """Erlang C needs `c > lam / mu` to be stable at all."""
    return math.floor(lam / mu) + 1


def _erlang_a_sla_floor(lam: float, mu: float, theta: float, target_wait_s: float, target_fraction: float) -> int:
    """A bound no Erlang A plan can beat, so the search skips hopeless (and costly, deeply overloaded) sizes.

    An arrival meets the target only by being served (at most a share `c mu / lam` is) or by abandoning within
    `t` (at most `1 - exp(-theta t)` of arrivals), so `c >= (lam / mu) (target - (1 - exp(-theta t)))`.
    """
    needed = (lam / mu) * (target_fraction + math.expm1(-theta * target_wait_s))
    return max(1, math.floor(needed))


def _check_sizing(lam: float, mu: float, patience_rate: float | None) -> None:
    _check_rates(1, lam, mu)
    if patience_rate is not None:
        _check_patience(patience_rate)


def servers_for_sla(
    lam: float, mu: float, target_wait_s: float, target_fraction: float, patience_rate: float | None = None
) -> int:
    """Fewest servers with `P(W <= target_wait_s) >= target_fraction`, by Erlang C, or Erlang A with patience.

    This is the call-centre service level, on the wait alone; the product's SLA counts the handling time too, and
    `servers_for_decision_sla` sizes for that.
    """
    _check_sizing(lam, mu, patience_rate)
    _check_time(target_wait_s, "target_wait_s")
    if not 0.0 < target_fraction < 1.0:
        raise ValueError(f"target_fraction must be in (0, 1), got {target_fraction!r}")
    if lam == 0.0:
        return 0

    def meets(servers: int) -> bool:
        return _service_level(servers, lam, mu, target_wait_s, patience_rate) >= target_fraction

    if patience_rate is None:
        return _smallest(meets, _erlang_c_floor(lam, mu))
    return _smallest(meets, _erlang_a_sla_floor(lam, mu, patience_rate, target_wait_s, target_fraction))


def decision_sla_ceiling(mu: float, sla_s: float) -> float:
    """`P(S <= sla_s) = 1 - exp(-mu sla_s)`: the best share decided within `sla_s` that any headcount reaches with
    exponential handling, the most Erlang C and A can promise; other handling-time laws have other ceilings
    (`staffing.handled_within`).

    Time to decision is the wait plus the handling time `S`, so it is never shorter than `S`; more servers only
    shrink the wait, and the wait is positive with positive probability at every finite size, so the ceiling is
    approached but never reached.
    """
    _check_rates(1, 0.0, mu)
    _check_time(sla_s, "sla_s")
    return -math.expm1(-mu * sla_s)


def _decision_level(servers: int, lam: float, mu: float, sla_s: float, patience_rate: float | None) -> float:
    if patience_rate is None:
        return mm_c_sojourn_within(servers, lam, mu, sla_s) if _stable(servers, lam, mu) else 0.0
    return erlang_a_decided_within(servers, lam, mu, patience_rate, sla_s)


@lru_cache(maxsize=4096)  # a day's hours ask alike (found by a probe: an Erlang A day took 64 s, 24 times 2.7 s)
def servers_for_decision_sla(
    lam: float, mu: float, sla_s: float, target_fraction: float, patience_rate: float | None = None
) -> int | None:
    """Fewest servers with `P(W + S <= sla_s) >= target_fraction` over all arrivals (with patience, an abandoned
    item is a miss), by Erlang C or Erlang A; `None` when no headcount reaches the target, i.e. `target_fraction >=
    decision_sla_ceiling`.

    A target of 1 is allowed (configs may ask for it) and is always out of reach with exponential handling. With no
    arrivals nothing can miss, so the answer is 0 whatever the target. With patience no more than `c mu / lam` of
    arrivals can be served, so the search starts at `(lam / mu) target`.
    """
    _check_sizing(lam, mu, patience_rate)
    _check_time(sla_s, "sla_s")
    if not 0.0 < target_fraction <= 1.0:
        raise ValueError(f"target_fraction must be in (0, 1], got {target_fraction!r}")
    if lam == 0.0:
        return 0
    if target_fraction >= decision_sla_ceiling(mu, sla_s):
        return None

    def meets(servers: int) -> bool:
        return _decision_level(servers, lam, mu, sla_s, patience_rate) >= target_fraction

    return _smallest(
        meets, _erlang_c_floor(lam, mu) if patience_rate is None else _served_floor(lam, mu, target_fraction)
    )


def pooled_decided_within(servers: int, lams: Sequence[float], means_s: Sequence[float], t: float) -> list[float]:
    """`P(W + S_k <= t)` per class of a FCFS pool of `servers` taking several classes, class `k` arriving at rate
    `lams[k]` (Poisson) with exponential handling of mean `means_s[k]`: an M/G/c queue whose handling time is the
    rate-weighted mixture of the classes'. An approximation, not exact.

    Under FCFS the wait `W` is the same law for every class (it does not depend on the arrival's own handling); each
    class's time to decision adds its own handling `S_k`, so a slow class misses first and every class must be
    checked against the target, not the pool's average. The mixture is far more variable than one exponential
    (text at 20 s with video at 250 s has a squared coefficient of variation `cs2` of 6.2, not 1), which lengthens
    the wait: `W` is taken as 0 with Erlang C's probability `C(c, a)` at the mixture's mean, else exponential with
    the M/M/c conditional mean `1 / (c mu - lam)` scaled by `(1 + cs2) / 2` (Allen-Cunneen; Kingman's heavy-traffic
    factor with Poisson arrivals, `ca2 = 1`; Whitt, "Approximations for the GI/G/m queue", Production and
    Operations Management 2(2), 1993, section 2, which keeps Erlang C's delay probability and scales the
    conditional wait). With one class `cs2 = 1` and this is `mm_c_sojourn_within` exactly.
    """
    _check_time(t)
    lam, mean, variability = _mixture(lams, means_s)
    waiting = erlang_c(servers, lam, 1.0 / mean)
    theta = (servers / mean - lam) * 2.0 / (1.0 + variability)
    return [
        -math.expm1(-t / mean_s) - waiting / mean_s * _exponential_gap(theta, 1.0 / mean_s, t) for mean_s in means_s
    ]


def _mixture(lams: Sequence[float], means_s: Sequence[float]) -> tuple[float, float, float]:
    """The pool's arrival rate, mean handling time and squared coefficient of variation of its handling (a mixture
    of exponentials), computed once for the formula and the search's stability test alike."""
    if not lams or len(lams) != len(means_s):
        raise ValueError("need one arrival rate and one mean handling time per class")
    lam = float(sum(lams))
    mean = sum(rate * mean_s for rate, mean_s in zip(lams, means_s, strict=True)) / lam
    second = sum(rate * 2.0 * mean_s * mean_s for rate, mean_s in zip(lams, means_s, strict=True)) / lam
    return lam, mean, second / (mean * mean) - 1.0


def servers_for_pooled_decision_sla(
    lams: Sequence[float], means_s: Sequence[float], sla_s: float, target_fraction: float
) -> int | None:
    """Fewest servers of one FCFS pool with `P(W + S_k <= sla_s) >= target_fraction` for every class `k`
    (`pooled_decided_within`); `None` when some class's own handling puts the target out of reach, 0 without
    arrivals. No abandonment: the mixture approximation is for M/G/c."""
    _check_time(sla_s, "sla_s")
    if not 0.0 < target_fraction <= 1.0:
        raise ValueError(f"target_fraction must be in (0, 1], got {target_fraction!r}")
    busy = [(rate, mean_s) for rate, mean_s in zip(lams, means_s, strict=True) if rate > 0.0]
    if not busy:
        return 0
    rates, means = [rate for rate, _ in busy], [mean_s for _, mean_s in busy]
    if any(target_fraction >= decision_sla_ceiling(1.0 / mean_s, sla_s) for mean_s in means):
        return None

    lam, mean, _ = _mixture(rates, means)

    def meets(servers: int) -> bool:
        if not _stable(servers, lam, 1.0 / mean):
            return False
        return min(pooled_decided_within(servers, rates, means, sla_s)) >= target_fraction

    return _smallest(meets, _erlang_c_floor(lam, 1.0 / mean))


def _served_floor(lam: float, mu: float, target_fraction: float) -> int:
    """Servers below which fewer than `target_fraction` of arrivals can even be served (throughput `<= c mu`)."""
    return max(1, math.floor(lam / mu * target_fraction))


def servers_for_mean_wait(lam: float, mu: float, target_mean_wait_s: float, patience_rate: float | None = None) -> int:
    """Fewest servers whose mean wait (over all arrivals) is at most `target_mean_wait_s`."""
    _check_sizing(lam, mu, patience_rate)
    if not (math.isfinite(target_mean_wait_s) and target_mean_wait_s > 0.0):
        raise ValueError(f"target_mean_wait_s must be finite and positive, got {target_mean_wait_s!r}")
    if lam == 0.0:
        return 0

    def meets(servers: int) -> bool:
        return _mean_wait(servers, lam, mu, patience_rate) <= target_mean_wait_s

    return _smallest(meets, 1 if patience_rate is not None else _erlang_c_floor(lam, mu))
