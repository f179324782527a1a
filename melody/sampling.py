"""Sampling continuations from a trained model."""
import numbers

import torch

from .errors import SeedError
from .notes import fold_pitch

MAX_LENGTH = 4096
MAX_VARIATIONS = 8192


def sampling_distribution(logits, temperature=1.0, beta=None, top_k=None, top_p=None):
    """Probabilities to sample the next token from, given the model's logits ``[..., vocab]``.

    ``temperature`` divides the logits; ``beta`` raises the softmax to a power, the original
    write-up's "softmax with a different base": ``p_i ** beta / sum_j p_j ** beta`` (so both
    together give ``softmax(logits / temperature) ** beta``, renormalised). Temperature 0 is
    greedy (arg max). ``top_k`` keeps the k likeliest tokens, ``top_p`` the smallest set whose
    probability reaches p; the rest get probability 0.
    """
    if temperature == 0:
        probs = torch.zeros_like(logits)
        return probs.scatter_(-1, logits.argmax(-1, keepdim=True), 1.0)
    scores = torch.log_softmax(logits / temperature, dim=-1)
    if beta is not None:
        scores = beta * scores
    if top_k is not None and top_k < scores.shape[-1]:
        kth = scores.topk(top_k, dim=-1).values[..., -1:]
        scores = scores.masked_fill(scores < kth, float("-inf"))
    probs = torch.softmax(scores, dim=-1)
    if top_p is not None and top_p < 1.0:
        sorted_probs, order = probs.sort(dim=-1, descending=True)
        before = sorted_probs.cumsum(-1) - sorted_probs  # mass of the strictly likelier tokens
        drop = (before >= top_p).scatter(-1, order, before >= top_p)
        probs = probs.masked_fill(drop, 0.0)
        probs = probs / probs.sum(-1, keepdim=True)
    return probs


def check_settings(length, temperature, beta, top_k, top_p, num_variations, vocab_size):
    """Raise ``SeedError`` with a readable message for a setting out of range."""
    if not isinstance(length, numbers.Integral) or not 0 <= length <= MAX_LENGTH:
        raise SeedError(f"Length must be a whole number of notes from 0 to {MAX_LENGTH}, got {length!r}.")
    if not temperature >= 0:
        raise SeedError(f"Temperature must be 0 or more (1 = as trained, lower = safer), got {temperature!r}.")
    if beta is not None and not beta > 0:
        raise SeedError(f"Beta must be above 0 (the original used about 15), got {beta!r}.")
    if top_k is not None and not (isinstance(top_k, numbers.Integral) and 1 <= top_k <= vocab_size):
        raise SeedError(f"top-k must be a whole number from 1 to {vocab_size}, got {top_k!r}.")
    if top_p is not None and not 0 < top_p <= 1:
        raise SeedError(f"top-p must be above 0 and at most 1, got {top_p!r}.")
    if not isinstance(num_variations, numbers.Integral) or not 1 <= num_variations <= MAX_VARIATIONS:
        raise SeedError(f"Number of variations must be from 1 to {MAX_VARIATIONS}, got {num_variations!r}.")


def seed_tokens(seed, lowest, vocab_size):
    """Tokens of a list of MIDI pitches, folded by octaves into the model's range."""
    tokens = []
    for pitch in seed:
        if not isinstance(pitch, numbers.Integral) or not 0 <= pitch <= 127:
            raise SeedError(f"Seed notes must be MIDI numbers from 0 to 127, got {pitch!r}.")
        tokens.append(fold_pitch(int(pitch), lowest, lowest + vocab_size - 1) - lowest)
    return tokens


@torch.no_grad()
def generate(
    model,
    seed,
    length,
    temperature=1.0,
    beta=None,
    top_k=None,
    top_p=None,
    rng_seed=None,
    num_variations=1,
    return_probs=False,
):
    """Continue a seed melody.

    Parameters
    ----------
    model : MelodyLSTM
    seed : list of int
        MIDI pitches of the seed (may be empty); pitches outside the model's range are folded by octaves.
    length : int
        Notes to generate for each variation.
    temperature, beta, top_k, top_p
        The sampling rule, see :func:`sampling_distribution`.
    rng_seed : int, optional
        Makes the result reproducible; None draws a fresh random seed.
    num_variations : int
        Independent continuations, generated as one batch.
    return_probs : bool
        Also return the model's own distribution (softmax of its logits, before the sampling
        rule) at every generated step, as a float tensor ``[num_variations, length, vocab]``.

    Returns
    -------
    list of list of int
        One list of MIDI pitches per variation (and the probabilities, if asked).
    """
    vocab = model.config.vocab_size
    lowest = model.encoding.lowest_pitch if hasattr(model, "encoding") else 54
    check_settings(length, temperature, beta, top_k, top_p, num_variations, vocab)
    tokens = seed_tokens(seed, lowest, vocab)
    generator = torch.Generator()
    generator.manual_seed(int(rng_seed) if rng_seed is not None else int(torch.seed() % 2**63))
    model.eval()
    device = next(model.parameters()).device
    out = torch.zeros(num_variations, length, dtype=torch.long)
    probs_out = torch.zeros(num_variations, length, vocab) if return_probs else None
    state = None
    if tokens:
        logits, state = model(torch.tensor([tokens], device=device))
        logits = logits[:, -1].expand(num_variations, vocab).cpu()
        state = tuple(s.expand(-1, num_variations, -1).contiguous() for s in state)
    else:
        logits = model.start_log_probs.cpu().expand(num_variations, vocab)
    for step in range(length):
        if return_probs:
            probs_out[:, step] = torch.softmax(logits, dim=-1)
        probs = sampling_distribution(logits, temperature, beta, top_k, top_p)
        nxt = torch.multinomial(probs, 1, generator=generator)
        out[:, step] = nxt[:, 0]
        if step + 1 < length:
            logits, state = model(nxt.to(device), state)
            logits = logits[:, -1].cpu()
    continuations = (out + lowest).tolist()
    return (continuations, probs_out) if return_probs else continuations
