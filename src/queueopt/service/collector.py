"""Short garbage-collector pauses for a long-running service.

A full collection of the cyclic collector walks every tracked object that is not frozen, with every thread
stopped; it runs whenever the survivors of young collections have grown by a quarter. In the service the bulk
of those objects are long-lived state (the engine's open tasks, the roster, the imported libraries), walked
again by each full collection for nothing: with 20,000 open tasks a pause took 12-17 ms, and before the startup
freeze 250-600 ms under load; one such pause in a 15 s benchmark set the moderator loop's p99.

So every object that survived a full collection is frozen right after it (`gc.freeze`): the next full
collection walks only what came since. Reference counting still frees frozen objects; only a reference cycle
that forms among frozen objects after they were frozen would be missed (the engine's state holds none, but
connections and futures of the server may). To bound that, every `sweep_every_s` the frozen objects are
unfrozen instead, so the next full collection walks everything once and reclaims any such cycle.
"""

from __future__ import annotations

import gc
import time
from collections.abc import Callable
from typing import Any

SWEEP_EVERY_S = 600.0
_OLDEST = 2  # CPython's generations are 0, 1 and 2; a collection of 2 is a full one


class CollectorPolicy:
    def __init__(self, sweep_every_s: float = SWEEP_EVERY_S, clock: Callable[[], float] = time.monotonic) -> None:
        self._sweep_every_s = sweep_every_s
        self._clock = clock
        self._last_sweep = clock()
        self.sweeps = 0

    def install(self) -> None:
        """Collect and freeze what exists now (called once the service has started), then keep freezing."""
        gc.collect()
        gc.freeze()
        self._last_sweep = self._clock()
        gc.callbacks.append(self._after_collection)

    def uninstall(self) -> None:
        if self._after_collection in gc.callbacks:
            gc.callbacks.remove(self._after_collection)
        gc.unfreeze()

    def _after_collection(self, phase: str, info: dict[str, Any]) -> None:
        if phase != "stop" or info["generation"] != _OLDEST:
            return
        now = self._clock()
        if now - self._last_sweep >= self._sweep_every_s:
            self._last_sweep = now
            self.sweeps += 1
            gc.unfreeze()
        else:
            gc.freeze()
