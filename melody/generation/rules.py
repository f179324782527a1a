"""The sampling rule: how the next token is drawn from the model's distribution (temperature, the
write-up's softmax with another base, top-k, top-p), and the draw itself."""
import numbers
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np
from threadpoolctl import ThreadpoolController

from ..errors import SeedError
from ..settings import LIMITS
from .kernels import choose

_THREADS = ThreadpoolController()


@contextmanager
def one_blas_thread():
    """Matrix products on one thread while sampling: the server runs generations side by side, a core each."""
    with _THREADS.limit(limits=1, user_api="blas"):
        yield


@dataclass(frozen=True)
class SamplingRule:
    """How the next token is drawn from the model's distribution; checked when made (``SeedError``).

    Attributes
    ----------
    temperature : float
        Divides the logits: 1 = as trained, lower = safer, 0 = greedy (arg max).
    beta : float or None
        Raises the softmax to this power, the write-up's "softmax with a different base" (it used 15).
    top_k : int or None
        Keep only the k likeliest tokens.
    top_p : float or None
        Keep only the smallest set of tokens whose probability reaches p.
    """

    temperature: float = LIMITS["temperature"].default
    beta: float = None
    top_k: int = None
    top_p: float = None

    def __post_init__(self):
        if not (isinstance(self.temperature, numbers.Real) and self.temperature >= 0):
            raise SeedError(f"Temperature must be 0 or more (1 = as trained, lower = safer), got {self.temperature!r}.")
        if self.beta is not None and not (isinstance(self.beta, numbers.Real) and self.beta > 0):
            raise SeedError(f"Beta must be above 0 (the original used about 15), got {self.beta!r}.")
        if self.top_k is not None and not (isinstance(self.top_k, numbers.Integral) and self.top_k >= 1):
            raise SeedError(f"top-k must be a whole number of 1 or more (as many as the vocabulary keeps every "
                            f"note), got {self.top_k!r}.")
        if self.top_p is not None and not (isinstance(self.top_p, numbers.Real) and 0 < self.top_p <= 1):
            raise SeedError(f"top-p must be above 0 and at most 1, got {self.top_p!r}.")

    def apply(self, probs):
        """``probs`` ``[..., vocab]`` reshaped by this rule (see :func:`apply_rule`)."""
        return apply_rule(probs, self.temperature, self.beta, self.top_k, self.top_p)


def sampling_distribution(logits, temperature=1.0, beta=None, top_k=None, top_p=None):
    """Probabilities to sample the next token from, given logits ``[..., vocab]`` (numpy or torch).

    ``temperature`` divides the logits; ``beta`` raises the softmax to a power, the original
    write-up's "softmax with a different base": ``p_i ** beta / sum_j p_j ** beta`` (so both
    together give ``softmax(logits / temperature) ** beta``, renormalised). Temperature 0 is
    greedy (arg max). ``top_k`` keeps the k likeliest tokens, ``top_p`` the smallest set whose
    probability reaches p; the rest get probability 0.
    """
    return apply_rule(_softmax(np.asarray(logits, dtype=np.float64)), temperature, beta, top_k, top_p)


def _softmax(logits):
    p = np.exp(logits - logits.max(-1, keepdims=True))
    return p / p.sum(-1, keepdims=True)


def apply_rule(probs, temperature=1.0, beta=None, top_k=None, top_p=None):
    """:func:`sampling_distribution` for a distribution rather than logits: since
    ``softmax(log p / T) ** beta`` is ``p ** (beta / T)`` renormalised, it works on ``p`` directly."""
    if temperature == 0:
        greedy = np.zeros_like(probs)
        np.put_along_axis(greedy, probs.argmax(-1)[..., None], 1.0, axis=-1)
        return greedy
    power = (1.0 if beta is None else float(beta)) / float(temperature)
    if power != 1.0:  # scaled by the largest first, so that nothing overflows and the top survives
        probs = (probs / probs.max(-1, keepdims=True)) ** power
        probs = probs / probs.sum(-1, keepdims=True)
    if top_k is not None and top_k < probs.shape[-1]:
        kth = np.partition(probs, -top_k, axis=-1)[..., [-top_k]]  # the k-th largest, kept as an axis
        probs = np.where(probs < kth, 0.0, probs)
        probs = probs / probs.sum(-1, keepdims=True)
    if top_p is not None and top_p < 1.0:
        order = np.argsort(-probs, axis=-1, kind="stable")
        ranked = np.take_along_axis(probs, order, axis=-1)
        before = np.cumsum(ranked, axis=-1) - ranked  # mass of the strictly likelier tokens
        keep = np.empty_like(before, dtype=bool)
        np.put_along_axis(keep, order, before < top_p, axis=-1)
        probs = np.where(keep, probs, 0.0)
        probs = probs / probs.sum(-1, keepdims=True)
    return probs


def draw(probs, rng):
    """One token per row of ``probs``, drawn from it."""
    chosen = np.empty(len(probs), dtype=np.int64)
    choose(np.ascontiguousarray(probs, dtype=np.float64), rng.random(len(probs)), chosen)
    return chosen


def draw_allowed(probs, rule_probs, weights, allowed, rng):
    """One token per row, from the rule's probabilities ``rule_probs`` times ``weights`` (per token),
    restricted to ``allowed`` (``[rows, vocab]`` bool); where the rule left nothing allowed (greedy,
    top-k), from the model's own ``probs`` among them. Returns ``(tokens, mass)``: ``mass`` is the
    weighted probability the rule gave to what was allowed (1e-6 of the model's where it gave none),
    what a sampler under constraints weighs its candidates by."""
    proposal = rule_probs * weights * allowed
    mass = proposal.sum(1)
    stuck = mass <= 0
    if stuck.any():
        fallback = (probs[stuck] + 1e-12) * weights * allowed[stuck]
        proposal[stuck], mass[stuck] = fallback, 1e-6 * fallback.sum(1)
    return draw(proposal / np.maximum(proposal.sum(1, keepdims=True), 1e-300), rng), mass


def draw_distinct(candidates, log_weights, count, rng):
    """``count`` of ``candidates`` (token lists) drawn by weight, different ones first: a list that
    several candidates share counts with their weights summed. ``[]`` when no weight is finite."""
    weights = {}
    for tokens, log_w in zip(candidates, log_weights):
        key = tuple(tokens)
        weights[key] = np.logaddexp(weights.get(key, -np.inf), log_w)
    keys = [k for k in weights if np.isfinite(weights[k])]
    if not keys:
        return []
    w = np.exp(np.array([weights[k] for k in keys]) - max(weights[k] for k in keys))
    order = rng.choice(len(keys), size=min(count, int((w > 0).sum())), replace=False, p=w / w.sum())
    chosen = [list(keys[i]) for i in order]
    while len(chosen) < count:  # fewer distinct candidates than asked for
        chosen.append(list(keys[order[len(chosen) % len(order)]]))
    return chosen
