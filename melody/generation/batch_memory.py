"""The song memory and the bar echo for a whole batch of melodies at once, in numpy.

Samplers advance hundreds of melodies together (``num_variations``, the particles of the
constrained sampler): one Python object per melody, looked up one by one, costs far more than the
network. Here every melody of the batch has the same number of tokens (each step adds one token to
each), so their histories are one array, and both mechanisms are array operations over the batch.
They give exactly what :class:`melody.model.memory.SongMemory` and :class:`melody.model.echo.BarEcho` give for each
melody (tested), and keeping some melodies and copying others (``reorder``) is one fancy index.
"""
import numpy as np

from ..model.echo import LAG_BARS, LAGS, MAX_TOTAL, RUN_BUCKETS
from .kernels import NO_POSITIONS, echo_add, echo_mix, largest, memory_add, memory_mix, plan_mix

_LAG_CATEGORIES = np.arange(LAGS) * len(RUN_BUCKETS)  # each lag's first weight category, halved
_RUN_BUCKETS = np.array(RUN_BUCKETS, dtype=np.int64)


class _Grown:
    """Arrays ``[rows, capacity]`` that grow along their second axis as needed."""

    def _grow(self, needed, *names):
        for name in names:
            old = getattr(self, name)
            if old.shape[1] < needed:
                new = np.full((old.shape[0], max(needed, 2 * old.shape[1])), -1 if name != "match" else 0,
                              dtype=old.dtype)
                new[:, : old.shape[1]] = old
                setattr(self, name, new)


class BatchMemory(_Grown):
    """The song memory of every melody of a batch.

    ``match[r, j]`` is how many tokens (at most ``max_order``) the history of melody ``r`` before its
    token ``j`` has in common with the end of its whole history: the contexts of the song memory
    that token ``j`` followed. The longest context seen before is the largest of them, and what the
    memory proposes is every token ``j`` that followed a context at least that long.
    """

    def __init__(self, rows, vocab_size, max_order, aligned):
        self.vocab_size, self.max_order, self.aligned = vocab_size, max_order, aligned
        self.tokens = np.full((rows, 64), -1, dtype=np.int64)
        self.positions = np.full((rows, 64), -1, dtype=np.int64)
        self.match = np.zeros((rows, 64), dtype=np.int64)
        self.length = 0

    def add(self, tokens, positions=None):
        """Append one token to every melody (``positions``: each one's bar position, aligned memories)."""
        t = self.length
        self._grow(t + 1, "tokens", "positions", "match")
        memory_add(self.tokens, self.positions, self.match, t, np.asarray(tokens, dtype=np.int64),
                   NO_POSITIONS if positions is None else np.asarray(positions, dtype=np.int64), self.max_order,
                   self.vocab_size)
        self.length = t + 1

    def proposals(self, positions=None):
        """``(k, rows, tokens, shares)``: for each melody the longest context seen before (0: none), and
        what followed it: melody ``rows[i]`` proposes ``tokens[i]`` with probability ``shares[i]``."""
        t, rows = self.length, len(self.tokens)
        matches = self.match[:, :t]
        if self.aligned and positions is not None:
            matches = np.where(self.positions[:, :t] == np.asarray(positions)[:, None], matches, 0)
        k = matches.max(1) if t else np.zeros(rows, dtype=np.int64)
        r, j = np.nonzero(matches >= np.maximum(k, 1)[:, None])  # no context (k = 0) proposes nothing
        counts = np.bincount(r * self.vocab_size + self.tokens[r, j], minlength=rows * self.vocab_size)
        keys = np.flatnonzero(counts)
        proposing = keys // self.vocab_size
        return k, proposing, keys % self.vocab_size, counts[keys] / np.bincount(r, minlength=rows)[proposing]

    def mix(self, probs, positions, weights):
        """``(1 - w) probs + w memory`` for each melody (a new array): ``memory`` what
        :meth:`proposals` proposes, ``w`` the ``weights`` of its ``k``."""
        at = np.asarray(positions, dtype=np.int64) if self.aligned and positions is not None else NO_POSITIONS
        mixed = np.empty_like(probs)
        memory_mix(probs, self.tokens, self.positions, self.match, self.length, at, np.asarray(weights, np.float64),
                   mixed, self.max_order, self.vocab_size)
        return mixed

    def reorder(self, indices):
        self.tokens, self.positions, self.match = self.tokens[indices], self.positions[indices], self.match[indices]


class BatchEcho(_Grown):
    """The bar echo of every melody of a batch: the token that started at each step (from ``origin``
    on; every onset asked about is there or later), and how many tokens each lag has matched.

    ``at`` keeps a margin of the longest fixed lag before ``origin``, where nothing started, so that
    every lag looks up a column without a check (``melody.generation.kernels`` checks that the onsets asked about
    lie in it). The lookups, the mixing and the updates are ``melody.generation.kernels``' ``echo_mix`` and
    ``echo_add``; ``vocab_size`` bounds the tokens recorded, which index the probabilities mixed."""

    def __init__(self, rows, steps_per_bar, bar_offset, origin, vocab_size):
        if int(steps_per_bar) < 1:
            raise ValueError(f"a bar must be at least one step long, got {steps_per_bar}")
        self.bar, self.offset, self.vocab_size = int(steps_per_bar), int(bar_offset), int(vocab_size)
        self.fixed = np.array([lag * steps_per_bar for lag in LAG_BARS], dtype=np.int64)
        self.origin = origin - int(self.fixed.max())  # the step of column 0
        self.at = np.full((rows, 256 + int(self.fixed.max())), -1, dtype=np.int64)
        self.runs = np.zeros((rows, LAGS), dtype=np.int64)  # tokens each lag has matched
        self.categories = np.repeat(_LAG_CATEGORIES[None] * 2, rows, 0)  # their weights' (before "starts a bar")
        self.started, self.first_bar = False, 0  # the step where the first bar starts, once there is a melody

    def _columns(self, onsets):
        """``onsets`` as an int array, with ``at`` grown to hold them. (Called before ``self.at`` is
        read for a kernel: growing replaces the array.)"""
        onsets = np.asarray(onsets, dtype=np.int64)
        if len(onsets):
            self._grow(largest(onsets) - self.origin + 1, "at")
        return onsets

    def add(self, tokens, onsets):
        onsets = self._columns(onsets)
        if not self.started and len(onsets):
            self.started, self.first_bar = True, int(onsets[0] - (onsets[0] - self.offset) % self.bar)
        echo_add(self.at, self.origin, self.fixed, self.started, self.first_bar, self.bar, self.runs, self.categories,
                 _RUN_BUCKETS, np.asarray(tokens, dtype=np.int64), onsets, self.vocab_size)

    def mix_into(self, probs, onsets, weights):
        """``probs`` ``[rows, vocab]`` with each melody's proposals mixed in (in place), as ``echo.mix_into``."""
        onsets = self._columns(onsets)
        echo_mix(probs, self.at, self.origin, self.fixed, self.started, self.first_bar, self.bar, self.offset,
                 self.categories, onsets, np.asarray(weights, dtype=np.float64), MAX_TOTAL, self.vocab_size)
        return probs

    def restate(self, probs, onsets, lags, weight):
        """``probs`` (in place) with the token that started ``lags[r]`` steps before each onset (lag 0:
        none) given the share ``weight``: what a form plan restates (``melody.model.form``)."""
        if weight > 0:
            onsets = self._columns(onsets)
            plan_mix(probs, self.at, self.origin, onsets, np.asarray(lags, dtype=np.int64), float(weight),
                     self.vocab_size)
        return probs

    def reorder(self, indices):
        self.at, self.runs, self.categories = self.at[indices], self.runs[indices], self.categories[indices]
