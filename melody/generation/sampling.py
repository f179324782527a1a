"""Sampling continuations from a trained model: ``sample_steps`` (one step at a time, for callers
that work on the notes as they come) and ``generate``. The sampling rule is a ``SamplingRule``
(``melody.generation.rules``), a steering request a ``Steering`` (``melody.generation.steering``);
both are checked when they are made, and the old keywords (``temperature=``, ``pins=`` ...) make them."""
import numbers
from dataclasses import dataclass, fields, replace

import numpy as np
import torch

from ..errors import SeedError
from ..settings import LIMITS
from . import smc
from .continuation import Continuation, seed_melody
from .rules import SamplingRule, draw, one_blas_thread
from .steering import MAX_TOKENS_PER_NOTE, Steering

RULE_OPTIONS = frozenset(f.name for f in fields(SamplingRule))
STEERING_OPTIONS = frozenset(f.name for f in fields(Steering))


def rule_and_steering(rule=None, steering=None, **options):
    """``(SamplingRule, Steering)`` from the ones given or from keywords (``temperature=0.8, pins="3:C5"``):
    a keyword of either kind may not come with an object of that kind."""
    unknown = sorted(options.keys() - RULE_OPTIONS - STEERING_OPTIONS)
    if unknown:
        raise TypeError(f"unexpected keyword argument {unknown[0]!r}")
    made = []
    for given, kind, names in ((rule, SamplingRule, RULE_OPTIONS), (steering, Steering, STEERING_OPTIONS)):
        asked = {name: options[name] for name in names & options.keys()}
        if given is not None and asked:
            raise TypeError(f"give either a {kind.__name__} or its keywords ({', '.join(sorted(asked))}), not both")
        made.append(given if given is not None else kind(**asked))
    return tuple(made)


def check_settings(length, num_variations, memory):
    """Raise ``SeedError`` with a readable message for a setting out of the library's range."""
    low, high = LIMITS["length"].library_range
    if not isinstance(length, numbers.Integral) or not low <= length <= high:
        raise SeedError(f"Length must be a whole number of notes from {low} to {high}, got {length!r}.")
    low, high = LIMITS["variations"].library_range
    if not isinstance(num_variations, numbers.Integral) or not low <= num_variations <= high:
        raise SeedError(f"Number of variations must be from {low} to {high}, got {num_variations!r}.")
    low, high = LIMITS["memory"].library_range
    if not low <= memory <= high:
        raise SeedError(f"Memory must be from {low:g} (LSTM alone) to {high:g} (as fitted), got {memory!r}.")


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
def sample_steps(model, seed, length, rule=None, steering=None, *, rng_seed=None, num_variations=1,
                 memory=LIMITS["memory"].default, repetition_guard=True, **options):
    """Continue a seed one step at a time: a generator of :class:`Step`, until every variation has
    ``length`` notes (rests do not count). ``generate`` collects it into melodies; the playground
    renders each step's notes while the next ones are sampled. See :func:`generate` for the
    parameters. With constraints, the constrained sampler (``melody.generation.smc``) chooses the
    continuations first (its candidates are resampled as it goes), and the steps then play them."""
    rule, steering = rule_and_steering(rule, steering, **options)
    check_settings(length, num_variations, memory)
    seed = seed_melody(model, seed)
    rng = np.random.default_rng(rng_seed)
    wanted = steering.constraints(seed, model, length)
    if not length:
        return  # no notes asked for: no step (the constrained sampler would still play its first)
    if wanted.any:
        result = smc.sample(model, seed, length, wanted, rule, rng, num_variations, memory, repetition_guard,
                            steering.particles)
        yield from replay(model, seed, result.tokens, memory)
        return
    state = Continuation(model, seed, num_variations, memory, rng)
    made = [0] * num_variations  # notes so far, per melody (plain ints: a step's bookkeeping is per note)
    longest = MAX_TOKENS_PER_NOTE * length + 16  # a melody that rests for ever still ends
    with one_blas_thread():
        for index in range(longest):
            probs = state.distribution()
            guarded = state.guarded(probs) if repetition_guard else probs
            chosen = draw(rule.apply(guarded), rng)
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


def generate(model, seed, length, rule=None, steering=None, *, rng_seed=None, num_variations=1, return_probs=False,
             memory=LIMITS["memory"].default, repetition_guard=True, **options):
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
    rule : SamplingRule, optional
        How each token is drawn: ``SamplingRule(temperature=1.0, beta=None, top_k=None, top_p=None)``
        (see :func:`sampling_distribution`), or give those as keywords: ``temperature=0.8, beta=15``.
    steering : Steering, optional
        What the continuation must keep to: ``Steering(pins=..., scale=..., scale_strength=...,
        loop=..., max_copy=..., particles=...)`` (described below), or give those as keywords.
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
    **options
        The fields of ``rule`` and ``steering`` as keywords, when those are not given.

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
    for step in sample_steps(model, seed, length, rule, steering, rng_seed=rng_seed, num_variations=num_variations,
                             memory=memory, repetition_guard=repetition_guard, **options):
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
