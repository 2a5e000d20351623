"""Common random numbers: every behavioural draw is a pure function of its keys.

The world never keeps a random stream for behaviour. A draw such as "does user ``u`` finish
the song at step ``s`` of session ``j`` on day ``d``" is the uniform

.. math::

    U = \\phi\\big(h(\\text{seed}, \\text{tag}, u, d, j, s)\\big) \\in (0, 1),

where ``h`` chains the splitmix64 finaliser (Steele, Lea & Flood 2014, "Fast splittable
pseudorandom number generators", OOPSLA) over the seed and the keys, then mixes in the
tag, and ``phi`` maps the top 53 bits to the open unit interval. Hence:

* results do not depend on batch size or on the order in which rows are processed;
* two arms, or the twin runs of one experiment (everyone on control versus everyone on
  treatment), see the same random number for the same (user, day, session, step): the
  difference between them is the policies' alone (common random numbers).

The tags are short strings hashed once (blake2b), so adding a purpose never shifts the
numbers of the others.
"""

from __future__ import annotations

import hashlib
from functools import lru_cache

import numpy as np
from numpy.typing import ArrayLike, NDArray

_MASK64 = (1 << 64) - 1
_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)
_S30 = np.uint64(30)
_S27 = np.uint64(27)
_S31 = np.uint64(31)
_S11 = np.uint64(11)
_TWO_M53 = 2.0**-53
_S32 = np.uint64(32)
_LOW32 = np.uint64(0xFFFFFFFF)
_TWO_M32 = 2.0**-32


@lru_cache(maxsize=256)
def tag_code(tag: str) -> int:
    """Stable 64-bit code of a purpose tag (independent of Python's hash seed)."""
    return int.from_bytes(hashlib.blake2b(tag.encode(), digest_size=8).digest(), "little")


def _splitmix_int(x: int) -> int:
    """The splitmix64 finaliser on a Python int (used for the scalar prefix of a key chain)."""
    x &= _MASK64
    x ^= x >> 30
    x = (x * 0xBF58476D1CE4E5B9) & _MASK64
    x ^= x >> 27
    x = (x * 0x94D049BB133111EB) & _MASK64
    x ^= x >> 31
    return x


def _mix(x: NDArray[np.uint64]) -> NDArray[np.uint64]:
    """The splitmix64 finaliser, in place on a uint64 array (wrapping arithmetic)."""
    x ^= x >> _S30
    x *= _M1
    x ^= x >> _S27
    x *= _M2
    x ^= x >> _S31
    return x


def _as_u64(key: ArrayLike) -> NDArray[np.uint64]:
    arr = np.asarray(key)
    if arr.dtype.kind not in "iu":
        raise TypeError(f"noise keys must be integers, got dtype {arr.dtype}")
    # Reinterpreting the two's-complement bits keeps negative keys distinct and total.
    return arr.astype(np.int64, copy=False).view(np.uint64)


def key_hash(seed: int, *keys: ArrayLike) -> NDArray[np.uint64]:
    """Chain the splitmix64 finaliser over ``(seed, *keys)`` (keys broadcast together).

    The result names one event (e.g. one session step); :func:`derive` turns it into the
    hash of one purpose, so several draws of the same step cost one key chain.
    """
    arrays = [_as_u64(k) for k in keys]
    shape = np.broadcast_shapes(*(a.shape for a in arrays)) if arrays else ()
    h = np.full(shape, _splitmix_int(seed), dtype=np.uint64)
    for a in arrays:
        h += _GOLDEN
        h ^= a
        _mix(h)
    return h


def derive(base: NDArray[np.uint64], tag: str) -> NDArray[np.uint64]:
    """The hash of purpose ``tag`` for the events named by ``base`` (a new array)."""
    h = base ^ np.uint64(tag_code(tag))
    return _mix(h)


def to_uniform(h: NDArray[np.uint64]) -> NDArray[np.float64]:
    """Map 64-bit hashes to the open interval (0, 1): ``(floor(h / 2**11) + 0.5) / 2**53``."""
    return ((h >> _S11).astype(np.float64) + 0.5) * _TWO_M53


def hash64(seed: int, tag: str, *keys: ArrayLike) -> NDArray[np.uint64]:
    """Hash ``(seed, tag, *keys)`` elementwise to uint64: ``derive(key_hash(seed, *keys), tag)``."""
    return derive(key_hash(seed, *keys), tag)


def uniform(seed: int, tag: str, *keys: ArrayLike) -> NDArray[np.float64]:
    """Uniforms in the open interval (0, 1), a pure function of ``(seed, tag, *keys)``.

    Example:
        >>> u = uniform(7, "finish", np.arange(3), 0)
        >>> bool(((u > 0) & (u < 1)).all()), bool((u == uniform(7, "finish", np.arange(3), 0)).all())
        (True, True)
    """
    return to_uniform(hash64(seed, tag, *keys))


class KeyedDraws:
    """Several purposes' uniforms for the same keys, sharing one key chain.

    ``KeyedDraws(seed, *keys).uniform(tag) == uniform(seed, tag, *keys)``.
    """

    def __init__(self, seed: int, *keys: ArrayLike) -> None:
        self._base = key_hash(seed, *keys)
        self._pairs: dict[str, tuple[NDArray[np.float64], NDArray[np.float64]]] = {}

    def uniform(self, tag: str) -> NDArray[np.float64]:
        return to_uniform(derive(self._base, tag))

    def uniform_pair(self, tag: str) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        """Two independent uniforms from one hash: its high and low 32 bits.

        ``U = (b + 0.5) / 2**32`` for each 32-bit half ``b``; a resolution of ``2**-32`` is
        ample for Bernoulli draws and halves the hashing of a step.
        """
        pair = self._pairs.get(tag)
        if pair is None:  # memoised: the behaviour and the session share a hash
            h = derive(self._base, tag)
            hi = ((h >> _S32).astype(np.float64) + 0.5) * _TWO_M32
            lo = ((h & _LOW32).astype(np.float64) + 0.5) * _TWO_M32
            pair = self._pairs[tag] = (hi, lo)
        return pair


class Noise:
    """The world's source of common random numbers, bound to one root seed.

    Args:
        seed: Root seed (any int; reduced modulo 2**64).
    """

    def __init__(self, seed: int) -> None:
        self.seed = int(seed) & _MASK64

    def uniform(self, tag: str, *keys: ArrayLike) -> NDArray[np.float64]:
        """See :func:`uniform`."""
        return uniform(self.seed, tag, *keys)

    def draws(self, *keys: ArrayLike) -> KeyedDraws:
        """Uniforms of several purposes for the same keys (one key chain)."""
        return KeyedDraws(self.seed, *keys)

    def bernoulli(self, tag: str, p: ArrayLike, *keys: ArrayLike) -> NDArray[np.bool_]:
        """``U < p`` for the keyed uniform ``U``: a Bernoulli(p) draw shared across arms."""
        return self.uniform(tag, *keys) < np.asarray(p)

    def __repr__(self) -> str:
        return f"Noise(seed={self.seed})"


__all__ = [
    "KeyedDraws",
    "Noise",
    "derive",
    "hash64",
    "key_hash",
    "tag_code",
    "to_uniform",
    "uniform",
]
