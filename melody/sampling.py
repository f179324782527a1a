"""Sampling continuations from a trained model."""
import numbers

import numpy as np
import torch
from threadpoolctl import ThreadpoolController

from .errors import SeedError
from .memory import SongMemory, mix
from .notes import fold_pitch
from .stepper import stepper_for

MAX_LENGTH = 4096
MAX_VARIATIONS = 8192
_THREADS = ThreadpoolController()


def sampling_distribution(logits, temperature=1.0, beta=None, top_k=None, top_p=None):
    """Probabilities to sample the next token from, given logits ``[..., vocab]`` (numpy or torch).

    ``temperature`` divides the logits; ``beta`` raises the softmax to a power, the original
    write-up's "softmax with a different base": ``p_i ** beta / sum_j p_j ** beta`` (so both
    together give ``softmax(logits / temperature) ** beta``, renormalised). Temperature 0 is
    greedy (arg max). ``top_k`` keeps the k likeliest tokens, ``top_p`` the smallest set whose
    probability reaches p; the rest get probability 0.
    """
    return apply_rule(_softmax(np.asarray(logits, dtype=np.float64)), temperature, beta, top_k, top_p)


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


def check_settings(length, temperature, beta, top_k, top_p, num_variations, vocab_size, memory):
    """Raise ``SeedError`` with a readable message for a setting out of range."""
    if not isinstance(length, numbers.Integral) or not 0 <= length <= MAX_LENGTH:
        raise SeedError(f"Length must be a whole number of notes from 0 to {MAX_LENGTH}, got {length!r}.")
    if not temperature >= 0:
        raise SeedError(f"Temperature must be 0 or more (1 = as trained, lower = safer), got {temperature!r}.")
    if beta is not None and not beta > 0:
        raise SeedError(f"Beta must be above 0 (the original used about 15), got {beta!r}.")
    if top_k is not None and not (isinstance(top_k, numbers.Integral) and top_k >= 1):
        raise SeedError(f"top-k must be a whole number of 1 or more (at least {vocab_size} keeps every note), "
                        f"got {top_k!r}.")
    if top_p is not None and not 0 < top_p <= 1:
        raise SeedError(f"top-p must be above 0 and at most 1, got {top_p!r}.")
    if not isinstance(num_variations, numbers.Integral) or not 1 <= num_variations <= MAX_VARIATIONS:
        raise SeedError(f"Number of variations must be from 1 to {MAX_VARIATIONS}, got {num_variations!r}.")
    if not 0 <= memory <= 1:
        raise SeedError(f"Memory must be from 0 (LSTM alone) to 1 (as fitted), got {memory!r}.")


def seed_tokens(seed, lowest, vocab_size):
    """Tokens of a list of MIDI pitches, folded by octaves into the model's range."""
    tokens = []
    for pitch in seed:
        if not isinstance(pitch, numbers.Integral) or not 0 <= pitch <= 127:
            raise SeedError(f"Seed notes must be MIDI numbers from 0 to 127, got {pitch!r}.")
        tokens.append(fold_pitch(int(pitch), lowest, lowest + vocab_size - 1) - lowest)
    return tokens


def _softmax(logits):
    p = np.exp(logits - logits.max(-1, keepdims=True))
    return p / p.sum(-1, keepdims=True)


def _with_memory(probs, memories, weights):
    """The LSTM's probabilities mixed with each variation's song memory (in place)."""
    for row, memory in enumerate(memories):
        k, remembered = memory.lookup()
        if k:
            probs[row] = mix(probs[row], remembered, k, weights)
    return probs


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
    memory=0.5,
    on_step=None,
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
        Also return the model's own distribution (before the sampling rule) at every generated
        step, as a float array ``[num_variations, length, vocab]``.
    memory : float
        How much the song memory (what followed the same notes earlier in this melody, see
        ``melody.memory``) counts: 1 = as fitted on validation songs (the model's own
        probabilities), 0 = the LSTM alone. The default, 0.5, keeps a melody's motifs coming back
        without looping them verbatim (see bench/RESULTS.md).
    on_step : callable, optional
        Called as ``on_step(step, pitches)`` with each step's new MIDI pitch of every variation,
        so that a caller can start on the notes (render audio, say) while later ones are made.

    Returns
    -------
    list of list of int
        One list of MIDI pitches per variation (and the probabilities, if asked).
    """
    vocab = model.config.vocab_size
    lowest = model.encoding.lowest_pitch if hasattr(model, "encoding") else 54
    check_settings(length, temperature, beta, top_k, top_p, num_variations, vocab, memory)
    tokens = seed_tokens(seed, lowest, vocab)
    rng = np.random.default_rng(rng_seed)
    weights = (model.memory_weights.cpu().double() * float(memory)).numpy()
    memories = []
    if weights.any():
        for _ in range(num_variations):
            memories.append(SongMemory(vocab, model.config.memory_order))
            for token in tokens:
                memories[-1].add(token)
    model.eval()
    device = next(model.parameters()).device
    layers, hidden = model.config.num_layers, model.config.hidden_size
    if tokens:  # the seed in one teacher-forced pass, then the fast stepper
        logits, (h, c) = model(torch.tensor([tokens], device=device))
        logits = np.repeat(logits[:, -1].cpu().numpy().astype(np.float64), num_variations, axis=0)
        h, c = h.expand(-1, num_variations, -1), c.expand(-1, num_variations, -1)
    else:
        logits = np.repeat(model.start_log_probs.cpu().numpy()[None].astype(np.float64), num_variations, axis=0)
        h = c = torch.zeros(layers, num_variations, hidden)
    run = stepper_for(model).start(h, c)
    out = np.zeros((num_variations, length), dtype=np.int64)
    probs_out = np.zeros((num_variations, length, vocab)) if return_probs else None
    with _THREADS.limit(limits=1, user_api="blas"):  # one-row products: threads only add overhead
        for step in range(length):
            probs = _softmax(logits)
            if memories:
                probs = _with_memory(probs, memories, weights)
            if return_probs:
                probs_out[:, step] = probs
            rule = apply_rule(probs, temperature, beta, top_k, top_p)
            chosen = (rule.cumsum(-1) < rng.random((num_variations, 1))).sum(-1)
            chosen = np.minimum(chosen, vocab - 1)
            out[:, step] = chosen
            for remembered, token in zip(memories, chosen.tolist()):
                remembered.add(token)
            if on_step is not None:
                on_step(step, (chosen + lowest).tolist())
            if step + 1 < length:
                logits = run.step(chosen).astype(np.float64)
    continuations = (out + lowest).tolist()
    return (continuations, probs_out) if return_probs else continuations
