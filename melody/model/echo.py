"""The bar echo: songs restate their phrases a whole number of bars later.

In real game music about 45% of 8-note windows repeat earlier material, and 90% of those repeats lie
a whole number of bars back, typically some twenty bars (a section coming back); an LSTM (even with
the song memory, which needs a few matching notes before it speaks up) rarely starts such a
restatement. For each of several lags (1 to 32 bars), the echo looks at the token that started
exactly that many bars before the next one (same place in the bar) and proposes it again. The model's
prediction becomes ``(1 - sum w) p + sum w [token = proposal]``, one ``w`` per lag that has a
proposal. Each weight depends on what its lag has seen: how many of the last tokens already matched
it (a restatement under way goes on; a fresh one starts mostly at a bar line) and whether the next
token starts a bar. The weights are fitted by EM on validation songs after training, like the song
memory's, and stored in the checkpoint.
"""
import numpy as np

LAG_BARS = (1, 2, 4, 8, 12, 16, 24, 32)  # a motif, a phrase, a period, sections, the whole A part
FROM_THE_TOP = len(LAG_BARS)  # one more "lag": back to the song's first bar, however far (songs loop)
LAGS = len(LAG_BARS) + 1
RUN_BUCKETS = (0, 1, 2, 3, 4, 8, 16)  # lower edges: 0, 1, 2, 3, 4-7, 8-15, 16+ tokens already matched
CATEGORIES = LAGS * len(RUN_BUCKETS) * 2  # lag x matched run x "starts a bar"
PRIOR_WEIGHT, PRIOR_STRENGTH, MAX_TOTAL = 0.02, 5.0, 0.95


def category(lag_index, run, bar_start):
    """The weight index of an echo at ``LAG_BARS[lag_index]`` (or ``FROM_THE_TOP``) that has matched
    ``run`` tokens."""
    bucket = int(np.searchsorted(RUN_BUCKETS, run, side="right")) - 1
    return (lag_index * len(RUN_BUCKETS) + bucket) * 2 + int(bool(bar_start))


class BarEcho:
    """One melody's echo: the token at every onset so far, and how long each lag has matched."""

    def __init__(self, steps_per_bar, bar_offset=0):
        self.bar, self.offset = steps_per_bar, bar_offset
        self.lags = [lag * steps_per_bar for lag in LAG_BARS]
        self.at = {}  # onset step -> token that started there
        self.first_bar = None  # the step where the melody's first bar starts
        self.runs = [0] * LAGS

    def _lags(self, onset):
        """The lags, in steps, that apply to a token starting at ``onset``: the fixed ones, then back
        to the first bar (0 before there is a melody)."""
        top = (onset - self.first_bar) // self.bar * self.bar if self.first_bar is not None else 0
        return self.lags + [top]

    def proposals(self, onset):
        """``[(category, token), ...]``: what each lag proposes for the token starting at ``onset``."""
        bar_start = (onset - self.offset) % self.bar == 0
        found = []
        for i, lag in enumerate(self._lags(onset)):
            token = self.at.get(onset - lag) if lag > 0 else None
            if token is not None:
                found.append((category(i, self.runs[i], bar_start), token))
        return found

    def add(self, token, onset):
        """Record that ``token`` started at ``onset``."""
        if self.first_bar is None:
            self.first_bar = onset - (onset - self.offset) % self.bar
        for i, lag in enumerate(self._lags(onset)):
            self.runs[i] = self.runs[i] + 1 if lag > 0 and self.at.get(onset - lag) == token else 0
        self.at[onset] = int(token)

    def copy(self):
        other = BarEcho.__new__(BarEcho)
        other.bar, other.offset, other.lags = self.bar, self.offset, self.lags
        other.at, other.runs, other.first_bar = dict(self.at), list(self.runs), self.first_bar
        return other


def echo_weights_of(weights, found):
    """The weights of proposals ``[(category, token), ...]``, scaled down together when they would
    leave the rest of the model less than ``1 - MAX_TOTAL``."""
    w = np.array([weights[c] for c, _ in found])
    total = w.sum()
    return w * (MAX_TOTAL / total) if total > MAX_TOTAL else w


def mix_into(probs, found, weights):
    """``probs`` (a distribution over tokens, changed in place) with the proposals mixed in."""
    if found:
        w = echo_weights_of(weights, found)
        probs *= 1 - w.sum()
        for weight, (_, token) in zip(w, found):
            probs[token] += weight
    return probs


def echo_predictions(tokens, onsets, steps_per_bar, bar_offset=0):
    """For every token of a song and every lag: the echo's category (-1: no proposal) and whether it
    proposed the token actually there. Two arrays ``[len(tokens), LAGS]``."""
    echo = BarEcho(steps_per_bar, bar_offset)
    categories = np.full((len(tokens), LAGS), -1, dtype=np.int64)
    hits = np.zeros((len(tokens), LAGS))
    for i, (token, onset) in enumerate(zip(tokens, onsets)):
        for j, (found, proposed) in enumerate(echo.proposals(onset)):
            categories[i, j], hits[i, j] = found, float(proposed == token)
        echo.add(token, onset)
    return categories, hits


def _weights_at(categories, weights):
    w = np.where(categories >= 0, np.asarray(weights)[np.maximum(categories, 0)], 0.0)
    total = w.sum(-1, keepdims=True)
    return np.where(total > MAX_TOTAL, w * MAX_TOTAL / np.maximum(total, 1e-300), w)


def mix_echo(probs, categories, hits, weights):
    """The probability of the actual tokens once the echo is mixed in: ``(1 - sum w) p + sum w [hit]``."""
    w = _weights_at(categories, weights)
    return (1 - w.sum(-1)) * probs + (w * hits).sum(-1)


def fit_echo(probs, categories, hits, iterations=30):
    """Echo weights that maximise the likelihood of held-out tokens (EM over the mixture of the rest
    of the model, whose probabilities of those tokens are ``probs``, and the proposals), one weight per
    category, each pulled towards ``PRIOR_WEIGHT`` as if by a few observations."""
    weights = np.full(CATEGORIES, PRIOR_WEIGHT)
    active = categories >= 0
    counts = np.bincount(categories[active], minlength=CATEGORIES)
    for _ in range(iterations):
        w = _weights_at(categories, weights)
        mixed = np.maximum((1 - w.sum(-1)) * probs + (w * hits).sum(-1), 1e-300)
        responsibility = w * hits / mixed[:, None]
        credit = np.bincount(categories[active], weights=responsibility[active], minlength=CATEGORIES)
        weights = (credit + PRIOR_STRENGTH * PRIOR_WEIGHT) / (counts + PRIOR_STRENGTH)
    return [float(w) for w in np.minimum(weights, MAX_TOTAL)]
