"""Deterministic, stateless pseudo-randomness: every value is a hash of a key.

Using hashes instead of a shared `random.Random` makes each object a pure function of
(seed, its identity, time), so any day can be generated without replaying earlier days.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from hashlib import blake2b
from typing import TypeVar

T = TypeVar("T")

_ALNUM = "bcdfghjklmnpqrstvwxz2456789"  # the alphabet Kubernetes uses for generated names
_ALNUM_TABLE = bytes(ord(_ALNUM[i % len(_ALNUM)]) for i in range(256))


def _digest(parts: tuple[object, ...], size: int) -> bytes:
    # repr() of a tuple of str/int is stable across runs (unlike hash()) and fast.
    return blake2b(repr(parts).encode(), digest_size=size).digest()


def h(*parts: object) -> int:
    """A 64-bit hash of the parts."""
    return int.from_bytes(_digest(parts, 8), "big")


def u(*parts: object) -> float:
    """A uniform float in [0, 1)."""
    return h(*parts) / 2**64


def pick(seq: Sequence[T], *parts: object) -> T:
    return seq[h(*parts) % len(seq)]


def weighted(options: Sequence[tuple[T, float]], *parts: object) -> T:
    x = u(*parts) * sum(w for _, w in options)
    for value, w in options:
        x -= w
        if x < 0:
            return value
    return options[-1][0]


def expo(mean: float, *parts: object) -> float:
    """An exponentially distributed value with the given mean."""
    return -mean * math.log(1.0 - u(*parts))


def suffix(n: int, *parts: object) -> str:
    """A Kubernetes-style random name suffix (e.g. a pod's `-x7k2p`)."""
    return _digest(parts, n).translate(_ALNUM_TABLE).decode()


def hexstr(n: int, *parts: object) -> str:
    return _digest(parts, (n + 1) // 2).hex()[:n]


def uid(*parts: object) -> str:
    """A random-looking (version 4 layout) UUID string."""
    x = _digest(parts, 16).hex()
    return f"{x[:8]}-{x[8:12]}-4{x[13:16]}-{'89ab'[int(x[16], 16) % 4]}{x[17:20]}-{x[20:32]}"
