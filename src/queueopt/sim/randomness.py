"""Where every random number of a replication comes from: one independent stream per quantity, named by its owner.

Common random numbers pair two runs only as far as both draw the same numbers for the same things. One stream per
purpose (every arrival stream's items from one, the whole roster from one, the service draws from one) loses that
as soon as a scenario changes: a moderator more in one group redraws every later group, and a busier arrival stream
moves the service draws of every item after its first arrival. Each quantity therefore draws from a stream of its
own, keyed by a path of names (`("arrivals", "en", "modality")`, `("roster", "vendor_a", "accuracy")`), and within
it in the order of what it belongs to (a stream's items in arrival order, a group's moderators by number). A change
to one part of a scenario then leaves every other part's numbers alone, and a shorter horizon draws a prefix of a
longer one's.
"""

from __future__ import annotations

import hashlib
import json

import numpy as np


def substream(seed: int, replication: int, *path: str) -> np.random.Generator:
    """The stream of `path` in replication `replication` of the scenario seeded `seed`.

    numpy's `SeedSequence` keeps streams with different spawn keys independent; the key is the replication and a
    stable hash of the path (blake2b: Python's `hash()` of a string changes from one process to the next, and the
    workers of an experiment are separate processes).
    """
    digest = hashlib.blake2b(json.dumps(path).encode(), digest_size=16).digest()
    key = int.from_bytes(digest, "little")
    return np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(replication, key)))
