"""An interpolated trigram model: the baseline the LSTM must beat, in bits per note."""
import numpy as np


class Counts:
    """How often each n-gram of token ids occurred, stored sparsely (a dense table of the rhythm
    encoding's 608^3 trigrams would take 1.8 GB): sorted keys ``sum(token * vocab**k)`` and counts."""

    def __init__(self, vocab_size, grams):
        self.vocab_size = vocab_size
        self.keys, self.counts = np.unique(self.key(grams), return_counts=True) if len(grams) else (
            np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64))

    def key(self, grams):
        """The keys of ``grams``, an int64 array ``[n, order]``."""
        grams = np.asarray(grams, dtype=np.int64).reshape(len(grams), -1)
        return (grams * self.vocab_size ** np.arange(grams.shape[1] - 1, -1, -1, dtype=np.int64)).sum(1)

    def __getitem__(self, grams):
        """The counts of ``grams`` (0 for unseen ones), as floats."""
        keys = self.key(grams)
        at = np.minimum(np.searchsorted(self.keys, keys), max(len(self.keys) - 1, 0))
        found = (at < len(self.keys)) & (self.keys[at] == keys) if len(self.keys) else np.zeros(len(keys), bool)
        return np.where(found, self.counts[at] if len(self.keys) else 0, 0).astype(float)


class InterpolatedTrigram:
    """Linear interpolation of trigram, bigram and add-one unigram estimates.

    An unseen context hands its weight down to the next lower order, so every prediction is a
    proper distribution. The three weights are fitted by EM on held-out songs (``fit_weights``).
    """

    def __init__(self, vocab_size, sequences):
        v = vocab_size
        self.vocab_size = v
        seqs = [np.asarray(seq, dtype=np.int64) for seq in sequences]
        grams = {n: np.concatenate([np.zeros((0, n), dtype=np.int64)] + [
            np.stack([s[i : len(s) - n + 1 + i] for i in range(n)], 1) for s in seqs if len(s) >= n]) for n in (1, 2, 3)}
        self.uni = np.bincount(grams[1][:, 0], minlength=v).astype(float)
        self.bi, self.tri = Counts(v, grams[2]), Counts(v, grams[3])
        # how often each context was followed by anything: a bigram's first token, a trigram's first two
        self.bi_context = np.bincount(grams[2][:, 0], minlength=v).astype(float)
        self.tri_context = Counts(v, grams[3][:, :2])
        self.weights = np.array([0.6, 0.3, 0.1])  # trigram, bigram, unigram

    def _components(self, seq):
        """Per-note probabilities under each order, shape ``[len(seq), 3]``; unseen contexts back off."""
        s = np.asarray(seq, dtype=np.int64)
        p1 = (self.uni[s] + 1) / (self.uni.sum() + self.vocab_size)
        p2, p3 = p1.copy(), p1.copy()
        if len(s) > 1:
            ctx = self.bi_context[s[:-1]]
            seen = ctx > 0
            p2[1:] = np.where(seen, self.bi[np.stack([s[:-1], s[1:]], 1)] / np.maximum(ctx, 1), p1[1:])
            p3[1:] = p2[1:]
        if len(s) > 2:
            ctx = self.tri_context[np.stack([s[:-2], s[1:-1]], 1)]
            seen = ctx > 0
            p3[2:] = np.where(seen, self.tri[np.stack([s[:-2], s[1:-1], s[2:]], 1)] / np.maximum(ctx, 1), p2[2:])
        return np.stack([p3, p2, p1], axis=1)

    def fit_weights(self, sequences, iterations=50):
        """EM for the interpolation weights on held-out sequences."""
        comps = np.concatenate([self._components(s) for s in sequences if len(s)])
        w = self.weights
        for _ in range(iterations):
            mixed = comps * w
            w = (mixed / mixed.sum(1, keepdims=True)).mean(0)
        self.weights = w
        return self

    def bits_per_note(self, sequences):
        """Average ``-log2 p`` over every note of every sequence (the first note by the unigram)."""
        total, count = 0.0, 0
        for s in sequences:
            if len(s):
                total += -np.log2(self._components(s) @ self.weights).sum()
                count += len(s)
        return float(total / max(count, 1))
