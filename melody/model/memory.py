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
    """Continuation counts of every context of 1..``max_order`` tokens seen so far in one song.

    ``aligned``: a context also names where in the bar the next token starts, so that what the
    memory proposes came at the same place in an earlier bar: repeats then fall a whole number of
    bars back, as they do in songs (with plain contexts a phrase is also "repeated" shifted by a
    beat, which songs rarely do). Counts are kept sparse: a song of a few hundred tokens has
    thousands of contexts, each followed by one or two different tokens.
    """

    def __init__(self, vocab_size, max_order=DEFAULT_MAX_ORDER, aligned=False):
        self.vocab_size = vocab_size
        self.max_order = max_order
        self.aligned = aligned
        self.history = []
        self.tables = [dict() for _ in range(max_order + 1)]

    def _key(self, k, position):
        context = tuple(self.history[-k:])
        return context + (position,) if self.aligned else context

    def _longest(self, position):
        for k in range(min(self.max_order, len(self.history)), 0, -1):
            counts = self.tables[k].get(self._key(k, position))
            if counts is not None:
                return k, counts
        return 0, None

    def lookup(self, position=None):
        """``(k, distribution over the vocabulary)`` for the longest context (k tokens) seen before
        (at the same bar position when aligned); ``(0, None)`` if none."""
        k, counts = self._longest(position)
        if not k:
            return 0, None
        distribution = np.zeros(self.vocab_size)
        total = sum(counts.values())
        for token, count in counts.items():
            distribution[token] = count / total
        return k, distribution

    def probability(self, token, position=None):
        """``(k, the memory's probability of token)`` without building the whole distribution."""
        k, counts = self._longest(position)
        return (k, counts.get(int(token), 0) / sum(counts.values())) if k else (0, 0.0)

    def copy(self):
        """An independent copy (for samplers that resample melodies)."""
        other = SongMemory(self.vocab_size, self.max_order, self.aligned)
        other.history = list(self.history)
        other.tables = [{key: dict(counts) for key, counts in table.items()} for table in self.tables]
        return other

    def add(self, token, position=None):
        """Record that ``token`` (starting at bar position ``position``) followed the current
        contexts, then append it to the history."""
        token = int(token)
        for k in range(1, min(self.max_order, len(self.history)) + 1):
            counts = self.tables[k].setdefault(self._key(k, position), {})
            counts[token] = counts.get(token, 0) + 1
        self.history.append(token)


def memory_predictions(tokens, vocab_size, max_order=DEFAULT_MAX_ORDER, positions=None):
    """For every token of a song: the match length k (0 = none) and the memory's probability of the
    token actually there. ``positions`` (each token's bar position) makes the memory aligned.
    Returns two arrays of ``len(tokens)``."""
    memory = SongMemory(vocab_size, max_order, aligned=positions is not None)
    orders = np.zeros(len(tokens), dtype=np.int64)
    probs = np.zeros(len(tokens))
    for i, token in enumerate(tokens):
        position = None if positions is None else int(positions[i])
        orders[i], probs[i] = memory.probability(token, position)
        memory.add(token, position)
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
