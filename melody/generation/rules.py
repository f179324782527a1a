"""The sampling rule: how the next token is drawn from the model's distribution (temperature, the
write-up's softmax with another base, top-k, top-p), and the draw itself."""
from contextlib import contextmanager

import numpy as np
from threadpoolctl import ThreadpoolController

from .kernels import choose

_THREADS = ThreadpoolController()


@contextmanager
def one_blas_thread():
    """Matrix products on one thread while sampling: the server runs generations side by side, a core each."""
    with _THREADS.limit(limits=1, user_api="blas"):
        yield




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
