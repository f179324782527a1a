"""Song memory: what followed the same recent notes earlier in the same song.

Game music repeats itself (verses, loops, a whole song played twice), far beyond what an LSTM's
state can hold. The memory looks up the longest run of the last 1..``max_order`` notes that
occurred before in the current song and proposes what followed it then; the model's prediction
becomes ``(1 - w_k) * p_lstm + w_k * p_memory``, with one weight ``w_k`` per match length k
fitted on validation songs. It is a discrete form of the "continuous cache" of Grave et al. (2017).
"""
import numpy as np

DEFAULT_MAX_ORDER = 12


class SongMemory:
    """Continuation counts of every context of 1..``max_order`` notes seen so far in one song."""

    def __init__(self, vocab_size, max_order=DEFAULT_MAX_ORDER):
        self.vocab_size = vocab_size
        self.max_order = max_order
        self.history = []
        self.tables = [dict() for _ in range(max_order + 1)]

    def lookup(self):
        """``(k, distribution)`` for the longest context (k notes) seen before; ``(0, None)`` if none."""
        h = self.history
        for k in range(min(self.max_order, len(h)), 0, -1):
            counts = self.tables[k].get(tuple(h[-k:]))
            if counts is not None:
                return k, counts / counts.sum()
        return 0, None

    def add(self, token):
        """Record that ``token`` followed the current contexts, then append it to the history."""
        h = self.history
        for k in range(1, min(self.max_order, len(h)) + 1):
            key = tuple(h[-k:])
            counts = self.tables[k].get(key)
            if counts is None:
                counts = self.tables[k][key] = np.zeros(self.vocab_size)
            counts[token] += 1
        h.append(int(token))


def memory_predictions(tokens, vocab_size, max_order=DEFAULT_MAX_ORDER):
    """For every position of a song: the match length k (0 = none) and the memory's probability
    of the note actually there. Returns two arrays of ``len(tokens)``."""
    memory = SongMemory(vocab_size, max_order)
    orders = np.zeros(len(tokens), dtype=np.int64)
    probs = np.zeros(len(tokens))
    for i, token in enumerate(tokens):
        k, distribution = memory.lookup()
        if k:
            orders[i], probs[i] = k, distribution[token]
        memory.add(token)
    return orders, probs


def mix(model_probs, memory_probs, orders, weights):
    """``(1 - w_k) p_model + w_k p_memory`` per position, with ``w_0 = 0`` (no match)."""
    w = np.asarray(weights)[orders]
    return (1 - w) * model_probs + w * memory_probs


PRIOR_WEIGHT, PRIOR_STRENGTH, MAX_WEIGHT = 0.3, 5.0, 0.98


def fit_weights(model_probs, memory_probs, orders, max_order=DEFAULT_MAX_ORDER, iterations=50):
    """Per-match-length mixture weights that maximise the likelihood (EM), from held-out songs.

    Each weight is pulled towards 0.3 as if by 5 extra observations (a match length seen only a
    few times keeps a moderate weight) and kept at most 0.98, so that a memory that turns out
    wrong never leaves the LSTM less than 2% of the probability.
    """
    weights = np.full(max_order + 1, PRIOR_WEIGHT)
    weights[0] = 0.0
    for _ in range(iterations):
        for k in range(1, max_order + 1):
            chosen = orders == k
            a = weights[k] * memory_probs[chosen]
            posterior = np.sum(a / np.maximum(a + (1 - weights[k]) * model_probs[chosen], 1e-300))
            weights[k] = (posterior + PRIOR_STRENGTH * PRIOR_WEIGHT) / (chosen.sum() + PRIOR_STRENGTH)
    return [float(w) for w in np.minimum(weights, MAX_WEIGHT)]
