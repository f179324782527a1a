"""Sampling continuations from a trained model: the sampling rules, ``sample_steps`` (one step at a
time, for callers that work on the notes as they come) and ``generate``."""
import numbers
from dataclasses import dataclass, replace

import numpy as np
import torch

from .steering import MAX_TOKENS_PER_NOTE, constraints
from . import smc
from .continuation import Continuation, seed_melody
from ..errors import SeedError
from .rules import apply_rule, draw, one_blas_thread, sampling_distribution  # noqa: F401  (sampling_distribution: public here too)

MAX_LENGTH = 4096
MAX_VARIATIONS = 8192


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


@dataclass
class Step:
    """One step of sampling: what every melody of the batch got.

    Attributes
    ----------
    index : int
        The step's number, from 0.
    tokens : numpy.ndarray
        The token each melody got.
    notes : list
        Each melody's new note ``(onset_step, duration_steps, pitch)`` (in the model's key), or None
        for a rest (or for a melody that already has all its notes).
    probs : numpy.ndarray
        The model's own distribution at this step (before the guard and the sampling rule), ``[melodies, vocab]``.
    done : numpy.ndarray of bool
        Which melodies have all their notes after this step.
    """

    index: int
    tokens: np.ndarray
    notes: list
    probs: np.ndarray
    done: np.ndarray


@torch.no_grad()
def sample_steps(model, seed, length, temperature=1.0, beta=None, top_k=None, top_p=None, rng_seed=None,
                 num_variations=1, memory=1.0, repetition_guard=True, pins=None, scale=None, loop=False,
                 max_copy=None, scale_strength=1.0, particles=None):
    """Continue a seed one step at a time: a generator of :class:`Step`, until every variation has
    ``length`` notes (rests do not count). ``generate`` collects it into melodies; the playground
    renders each step's notes while the next ones are sampled. See :func:`generate` for the
    parameters. With constraints, the constrained sampler (``melody.generation.smc``) chooses the
    continuations first (its candidates are resampled as it goes), and the steps then play them."""
    check_settings(length, temperature, beta, top_k, top_p, num_variations, model.config.vocab_size, memory)
    seed = seed_melody(model, seed)
    rng = np.random.default_rng(rng_seed)
    wanted = constraints(pins, scale, loop, max_copy, scale_strength, seed, model, length)
    if not length:
        return  # no notes asked for: no step (the constrained sampler would still play its first)
    if wanted.any:
        result = smc.sample(model, seed, length, wanted, (temperature, beta, top_k, top_p), rng,
                                    num_variations, memory, repetition_guard, particles)
        yield from replay(model, seed, result.tokens, memory)
        return
    state = Continuation(model, seed, num_variations, memory, rng)
    made = [0] * num_variations  # notes so far, per melody (plain ints: a step's bookkeeping is per note)
    longest = MAX_TOKENS_PER_NOTE * length + 16  # a melody that rests for ever still ends
    with one_blas_thread():
        for index in range(longest):
            probs = state.distribution()
            guarded = state.guarded(probs) if repetition_guard else probs
            chosen = draw(apply_rule(guarded, temperature, beta, top_k, top_p), rng)
            notes = state.advance(chosen)
            for row, note in enumerate(notes):
                if made[row] >= length:
                    notes[row] = None  # it has all its notes: the others are still being played
                elif note is not None:
                    made[row] += 1
            done = [count >= length for count in made]
            yield Step(index, chosen, notes, probs, np.array(done))
            if all(done):
                return


def replay(model, seed, token_lists, memory=1.0):
    """The steps of continuations already chosen (one token list each), with the model's distribution
    at every step, as :func:`sample_steps` yields them."""
    state = Continuation(model, seed, len(token_lists), memory)
    longest = max((len(t) for t in token_lists), default=0)
    lengths = np.array([len(t) for t in token_lists])
    with one_blas_thread():
        for index in range(longest):
            probs = state.distribution()
            chosen = np.array([t[min(index, len(t) - 1)] if t else 0 for t in token_lists], dtype=np.int64)
            notes = state.advance(chosen)
            done = index >= lengths  # a row's last token (a loop's closing rest, say) still belongs to it
            yield Step(index, chosen, [None if d else note for d, note in zip(done, notes)], probs, done)


def generate(model, seed, length, temperature=1.0, beta=None, top_k=None, top_p=None, rng_seed=None,
             num_variations=1, return_probs=False, memory=1.0, repetition_guard=True, pins=None, scale=None,
             loop=False, max_copy=None, scale_strength=1.0, particles=None):
    """Continue a seed melody.

    Parameters
    ----------
    model : MelodyLSTM
        A loaded model (``load_model``), with its ``.encoding``.
    seed : Melody or list of int
        A ``Melody`` (``encode_midi(path, model.encoding)``, ``melody_from_text(...)``), or MIDI pitches
        in the model's key (C major / A minor; folded into range by octaves), one eighth note each.
        May be empty: the first note then comes from the training data's frequencies.
    length : int
        Notes to generate for each variation (rests do not count).
    temperature, beta, top_k, top_p
        The sampling rule, see :func:`sampling_distribution`.
    rng_seed : int, optional
        Makes the result reproducible; None draws a fresh random seed.
    num_variations : int
        Independent continuations, generated as one batch.
    return_probs : bool
        Also return the model's own distribution (before the guard and the rule) at every step, as
        ``[num_variations, steps, vocab]``: a variation's first ``len(result.tokens)`` steps are its own.
    memory : float
        How much the song memory, the bar echo and the form plan (what followed the same notes
        earlier in this melody, what came a whole number of bars before, which earlier bar to
        restate: ``melody.model.memory``, ``melody.model.echo``, ``melody.model.form``) count:
        1 = as fitted (the memory and the echo on validation songs, the plan on the training songs;
        the default: phrases come back as often as in real songs' continuations, the repetition
        guard keeping it out of loops), 0 = the LSTM alone.
    repetition_guard : bool
        Keep melodies out of short loops and long silences (see ``melody.generation.guard``); on by default.
    pins : dict or str, optional
        Notes fixed in the continuation: ``{15: 72}`` makes the 16th generated note C5; a value may
        also be ``(pitch, length)`` or ``(pitch, length, onset)`` (in 16ths; the onset counts from the
        seed's end), or text ``"15:C5 31:G4/4 40:E4@96"``. Pitches are in the seed's key frame.
    scale : str, optional
        ``"C major"``, ``"A minor"``, ``"D dorian"``, ``"C major pentatonic"``, ``"A blues"`` ... or
        ``"seed"`` (the seed's own pitch classes): every note keeps to it.
    scale_strength : float
        1 = strictly (the default); below 1 a preference: a note outside keeps ``1 - strength`` of its
        probability.
    loop : bool
        The continuation ends so that the seed's beginning follows without a seam (at a bar line,
        with rhythm): seed + continuation loops.
    max_copy : int, optional
        No run of more than ``max_copy`` notes (8 or more) the same as in a training song.
    particles : int, optional
        Candidates the constrained sampler keeps (default 64); only with constraints.

    Returns
    -------
    list of Melody
        One continuation per variation: its notes go on from the seed's end on the same time axis
        (``seed.then(result, model.encoding)`` joins them), in the model's key, with the seed's key,
        key shift, tempo and bar grid. With ``return_probs``, ``(melodies, probs)``.
    """
    seed = seed_melody(model, seed)
    tokens = [[] for _ in range(num_variations)]
    probs = []
    for step in sample_steps(model, seed, length, temperature, beta, top_k, top_p, rng_seed, num_variations,
                             memory, repetition_guard, pins, scale, loop, max_copy, scale_strength, particles):
        for row, token, note, done in zip(tokens, step.tokens.tolist(), step.notes, step.done.tolist()):
            if note is not None or not done:
                row.append(token)
        if return_probs:
            probs.append(step.probs)
    results = [continuation_of(model.encoding, seed, t) for t in tokens]
    if return_probs:
        stacked = np.stack(probs, axis=1) if probs else np.zeros((num_variations, 0, model.config.vocab_size))
        return results, stacked
    return results


def continuation_of(config, seed, tokens):
    """The ``Melody`` of ``tokens`` played after ``seed`` (its key, tempo and bar grid)."""
    start = seed.end_step if seed.notes else 0
    notes, end = config.notes_of(tokens, start)
    return replace(seed, notes=tuple(notes), tokens=tuple(tokens), end_step=end, source="a continuation",
                   rhythm=config.rhythm)
