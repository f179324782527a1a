"""The song memory and the bar echo for a whole batch of melodies at once, in numpy.

Samplers advance hundreds of melodies together (``num_variations``, the particles of the
constrained sampler): one Python object per melody, looked up one by one, costs far more than the
network. Here every melody of the batch has the same number of tokens (each step adds one token to
each), so their histories are one array, and both mechanisms are array operations over the batch.
They give exactly what :class:`melody.memory.SongMemory` and :class:`melody.echo.BarEcho` give for each
melody (tested), and keeping some melodies and copying others (``reorder``) is one fancy index.
"""
import numpy as np

from .echo import LAG_BARS, LAGS, MAX_TOTAL, RUN_BUCKETS

_LAG_CATEGORIES = np.arange(LAGS) * len(RUN_BUCKETS)  # each lag's first weight category, halved


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
        tokens = np.asarray(tokens, dtype=np.int64)
        t = self.length
        self._grow(t + 1, "tokens", "positions", "match")
        if t:
            same = self.tokens[:, :t] == tokens[:, None]
            self.match[:, 1 : t + 1] = np.where(same, np.minimum(self.match[:, :t] + 1, self.max_order), 0)
        self.match[:, 0] = 0
        self.tokens[:, t] = tokens
        if positions is not None:
            self.positions[:, t] = positions
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
        """``(1 - w) probs + w memory`` for each melody, ``w`` the ``weights`` of its ``k`` (a new array;
        the proposed tokens only are added to, so the rest is one product)."""
        k, rows, tokens, shares = self.proposals(positions)
        w = weights[k][:, None]
        mixed = (1 - w) * probs
        mixed[rows, tokens] += w[rows, 0] * shares
        return mixed

    def reorder(self, indices):
        self.tokens, self.positions, self.match = self.tokens[indices], self.positions[indices], self.match[indices]


class BatchEcho(_Grown):
    """The bar echo of every melody of a batch: the token that started at each step (from ``origin``
    on; every onset asked about is there or later), and how many tokens each lag has matched.

    ``at`` keeps a margin of the longest fixed lag before ``origin``, where nothing started, so that
    every lag looks up a column without a check; lag 0 (back to the top before there is a bar to go
    back to) looks up the onset itself, where nothing has started yet either."""

    def __init__(self, rows, steps_per_bar, bar_offset, origin):
        self.bar, self.offset = steps_per_bar, bar_offset
        self.fixed = np.array([lag * steps_per_bar for lag in LAG_BARS], dtype=np.int64)
        self.origin = origin - int(self.fixed.max())  # the step of column 0
        self.at = np.full((rows, 256 + int(self.fixed.max())), -1, dtype=np.int64)
        self._rows = np.arange(rows)
        self._set_runs(np.zeros((rows, LAGS), dtype=np.int64))
        self.first_bar = None
        self._cache = None  # (onsets, what the lags found there) of the last proposals

    def _set_runs(self, runs):
        """How many tokens each lag has matched, and the weight categories that makes (before "starts a bar")."""
        self.runs = runs
        self._categories = (_LAG_CATEGORIES + np.searchsorted(RUN_BUCKETS, runs, side="right") - 1) * 2

    def _earlier(self, onsets):
        """The token that started one lag before each onset, ``[rows, LAGS]`` (-1: none): the fixed
        lags, then back to the first bar (none before there is a melody)."""
        if self._cache is not None and np.array_equal(self._cache[0], onsets):
            return self._cache[1]  # asked for the proposals at these onsets, now adding tokens there
        here = self._columns(onsets)
        where = np.empty((len(onsets), LAGS), dtype=np.int64)
        where[:, :-1] = here[:, None] - self.fixed
        where[:, -1] = here - (onsets - self.first_bar) // self.bar * self.bar if self.first_bar is not None else here
        found = self.at[self._rows[:, None], where]
        self._cache = (onsets.copy(), found)
        return found

    def _columns(self, onsets):
        """The columns of ``at`` where ``onsets`` lie, grown to hold them."""
        columns = onsets - self.origin
        self._grow(int(columns.max()) + 1, "at")
        return columns

    def proposals(self, onsets):
        """``(categories, tokens)``, each ``[rows, LAGS]``: what each lag proposes (token -1: nothing)."""
        onsets = np.asarray(onsets, dtype=np.int64)
        bar_start = (onsets - self.offset) % self.bar == 0
        return self._categories + bar_start[:, None], self._earlier(onsets)

    def add(self, tokens, onsets):
        onsets, tokens = np.asarray(onsets, dtype=np.int64), np.asarray(tokens, dtype=np.int64)
        if self.first_bar is None:
            self.first_bar = int(onsets[0] - (onsets[0] - self.offset) % self.bar)
        earlier = self._earlier(onsets)  # tokens are never -1, so a match is a token found there
        self._set_runs(np.where(earlier == tokens[:, None], self.runs + 1, 0))
        self.at[self._rows, onsets - self.origin] = tokens
        self._cache = None

    def mix_into(self, probs, onsets, weights):
        """``probs`` ``[rows, vocab]`` with each melody's proposals mixed in (in place), as ``echo.mix_into``."""
        categories, tokens = self.proposals(onsets)
        proposed = tokens >= 0
        w = np.where(proposed, np.asarray(weights)[categories], 0.0)
        total = w.sum(1, keepdims=True)
        if (total > MAX_TOTAL).any():
            w = np.where(total > MAX_TOTAL, w * MAX_TOTAL / np.maximum(total, 1e-300), w)
            total = w.sum(1, keepdims=True)
        probs *= 1 - total
        np.add.at(probs, (self._rows[:, None], tokens), w)  # where nothing is proposed, 0 is added
        return probs

    def tokens_back(self, onsets, lags):
        """The token that started ``lags`` steps before each onset (one lag per row; -1: none, or lag 0)."""
        onsets, lags = np.asarray(onsets, dtype=np.int64), np.asarray(lags, dtype=np.int64)
        return self.at[self._rows, self._columns(onsets) - lags]

    def reorder(self, indices):
        self.at, self._cache, self._rows = self.at[indices], None, np.arange(len(indices))
        self._set_runs(self.runs[indices])
