"""Skills as bits, so eligibility of every (requirement, moderator) pair is one vectorised `required & ~held`.

Every (dimension, code) a moderator holds gets a bit. Bit 0 is reserved and never held: a requirement naming a code
no moderator has ever held (a language nobody on the roster speaks) maps to it, so such a task is ineligible for
everyone without growing the vocabulary with every code a task happens to carry.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np
from numpy.typing import NDArray

Mask = NDArray[np.uint64]
WORD = 64
UNHELD = 0


class SkillBits:
    """The growing vocabulary of held skills; `words` is how many uint64 words a mask needs today."""

    def __init__(self) -> None:
        self._bits: dict[tuple[str, str], int] = {}
        self.size = 1

    def add(self, dimension: str, code: str) -> int:
        bit = self._bits.get((dimension, code))
        if bit is None:
            bit = self.size
            self._bits[(dimension, code)] = bit
            self.size += 1
        return bit

    def bit(self, dimension: str, code: str) -> int:
        return self._bits.get((dimension, code), UNHELD)

    @property
    def words(self) -> int:
        return (self.size + WORD - 1) // WORD


def join(bits: Iterable[int]) -> int:
    """Bits as one Python int, the form a single pair is tested in: `required & ~held == 0`."""
    mask = 0
    for bit in bits:
        mask |= 1 << bit
    return mask


def split(masks: Sequence[int], words: int) -> Mask:
    """Python-int masks as an `(len(masks), words)` uint64 array.

    Masks never exceed `words` words (their bits are the vocabulary's), so one word, the common case, converts
    straight from the ints in C: a batch splits hundreds of masks, and the word-by-word lists cost 20 times more."""
    if words == 1:
        column: Mask = np.fromiter(masks, dtype=np.uint64, count=len(masks)).reshape(-1, 1)
        return column
    low = (1 << WORD) - 1
    array: Mask = np.array(
        [[(mask >> (WORD * word)) & low for word in range(words)] for mask in masks], dtype=np.uint64
    )
    return array


def covered(required: Mask, held: Mask) -> NDArray[np.bool_]:
    """`(S, W)` requirements against `(M, W)` holdings: an `(S, M)` matrix, True where nothing required is missing.

    The loop runs over the few mask words, never over pairs.
    """
    lacking = ~held
    missing = required[:, 0, None] & lacking[None, :, 0]
    for word in range(1, required.shape[1]):
        missing |= required[:, word, None] & lacking[None, :, word]
    ok: NDArray[np.bool_] = missing == 0
    return ok
