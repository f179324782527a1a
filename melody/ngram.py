"""An interpolated trigram model: the baseline the LSTM must beat, in bits per note."""
import numpy as np


class InterpolatedTrigram:
    """Linear interpolation of trigram, bigram and add-one unigram estimates.

    An unseen context hands its weight down to the next lower order, so every prediction is a
    proper distribution. The three weights are fitted by EM on held-out songs (``fit_weights``).
    """

    def __init__(self, vocab_size, sequences):
        v = vocab_size
        self.vocab_size = v
        self.uni = np.zeros(v)
        self.bi = np.zeros((v, v))
        self.tri = np.zeros((v, v, v))
        for seq in sequences:
            s = np.asarray(seq, dtype=np.int64)
            np.add.at(self.uni, s, 1)
            np.add.at(self.bi, (s[:-1], s[1:]), 1)
            np.add.at(self.tri, (s[:-2], s[1:-1], s[2:]), 1)
        self.weights = np.array([0.6, 0.3, 0.1])  # trigram, bigram, unigram

    def _components(self, seq):
        """Per-note probabilities under each order, shape ``[len(seq), 3]``; unseen contexts back off."""
        s = np.asarray(seq, dtype=np.int64)
        p1 = (self.uni[s] + 1) / (self.uni.sum() + self.vocab_size)
        p2, p3 = p1.copy(), p1.copy()
        if len(s) > 1:
            ctx = self.bi[s[:-1]].sum(1)
            seen = ctx > 0
            p2[1:] = np.where(seen, self.bi[s[:-1], s[1:]] / np.maximum(ctx, 1), p1[1:])
            p3[1:] = p2[1:]
        if len(s) > 2:
            ctx = self.tri[s[:-2], s[1:-1]].sum(1)
            seen = ctx > 0
            p3[2:] = np.where(seen, self.tri[s[:-2], s[1:-1], s[2:]] / np.maximum(ctx, 1), p2[2:])
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
