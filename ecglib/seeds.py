"""One way to derive seeds: every random stream in ecglib is named, never computed by arithmetic.

A run has one ``seed`` (its parameter). Each independent stream (a split, a trial, an
arm's initial weights, a grid run's data order) gets its own seed from
:func:`derive_seed`, ``numpy.random.SeedSequence([seed, *hashed keys])``: streams named
differently are statistically independent, and adding a stream never shifts another
(``seed + 1`` and ``seed * 1_000_003 + i`` schemes collide and couple neighbours).
"""

from __future__ import annotations

import hashlib

import numpy as np


def _key_word(key: int | str | float | bool) -> int:
    """A 32-bit word for one key: its text's SHA-256 (``1``, ``"1"`` and ``1.0`` differ from ``True``)."""
    return int(hashlib.sha256(str(key).encode()).hexdigest()[:8], 16)


def derive_seed(seed: int, *keys: int | str | float | bool) -> int:
    """A 31-bit seed for the stream named ``keys`` of a run seeded with ``seed``.

    Parameters
    ----------
    seed : the run's seed (non-negative int)
    keys : names of the stream, e.g. ``("trial", 3)`` or ``("grid", "203", 0.001, 16, True)``

    Returns
    -------
    int in [0, 2**31 - 1]: usable by ``numpy.random.default_rng``, ``torch.manual_seed`` and
    scikit-learn alike. The same ``seed`` and ``keys`` always give the same value.

    Examples
    --------
    >>> derive_seed(0, "trial", 1) == derive_seed(0, "trial", 1)
    True
    >>> derive_seed(0, "trial", 1) != derive_seed(0, "trial", 2)
    True
    """
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed must be a non-negative int, got {seed!r}")
    words = [int(seed)] + [_key_word(key) for key in keys]
    return int(np.random.SeedSequence(words).generate_state(1)[0] & 0x7FFF_FFFF)


def rng(seed: int, *keys: int | str | float | bool) -> np.random.Generator:
    """A NumPy generator for the stream ``keys`` (``default_rng(derive_seed(seed, *keys))``)."""
    return np.random.default_rng(derive_seed(seed, *keys))
