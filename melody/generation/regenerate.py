"""Regenerating bars of a tune: new notes inside a range of bars, leading into the notes after it.

The notes before the range are the seed (a note sounding into the range is cut where the range
starts). Candidates ("particles") are sampled together, token by token, each restricted to the
tokens that still fit in the range (and to a scale, if one is asked for), so that every candidate
fills the range exactly: its last note or rest ends where the range ends. A candidate's weight is the
probability the sampling rule gave to what it was allowed at each step, times the model's probability
of the first tokens after the range given the candidate (how naturally it leads into them). The
candidates are then drawn by weight, different ones first. The notes after the range do not move.
"""
import numpy as np
import torch

from ..errors import SeedError
from ..music.encoding import Melody
from .continuation import Continuation, seed_melody
from .rules import draw_allowed, draw_distinct, one_blas_thread
from .sampling import rule_and_steering

CANDIDATES = 64  # particles sampled for each request
FOLLOWING_TOKENS = 8  # tokens after the range that score how a candidate leads into them
MAX_BARS = 64  # the most bars one call regenerates


def bar_range(tune, start_bar, end_bar):
    """``(start_step, end_step)`` of bars ``start_bar`` .. ``end_bar`` (0 is the bar of the tune's first
    note; ``end_bar`` is not included; a last bar the tune ends in the middle of ends with it), after
    checking them against the tune's bars."""
    for name, value in (("start_bar", start_bar), ("end_bar", end_bar)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
            raise SeedError(f"{name} must be a whole number of bars, got {value!r}.")
    bars = tune.bar_count
    if not 0 <= start_bar < end_bar <= bars:
        raise SeedError(f"Bars {start_bar} to {end_bar} are not a range of this tune's {bars} bar{'s' * (bars != 1)}: give "
                        f"0 <= start_bar < end_bar <= {bars} (bar 0 holds its first note; end_bar is not included).")
    if end_bar - start_bar > MAX_BARS:
        raise SeedError(f"At most {MAX_BARS} bars are regenerated at once, not {end_bar - start_bar}: choose fewer.")
    start = tune.bar_start + start_bar * tune.steps_per_bar
    return start, min(tune.bar_start + end_bar * tune.steps_per_bar, tune.end_step)


def _before(tune, start, config):
    """The seed: the tune's notes before ``start`` (the last cut there), ending at ``start``. Without
    notes before the range, an empty seed whose bars start at step 0 (the range then starts there)."""
    notes = [(o, min(s, start - o), p) for o, s, p in tune.notes if o < start]
    if not notes:
        return Melody(notes=(), tokens=(), end_step=0, steps_per_bar=tune.steps_per_bar, bar_offset=0,
                      key=tune.key, key_shift=tune.key_shift, tempo_bpm=tune.tempo_bpm, rhythm=True, meter=tune.meter)
    return Melody(notes=tuple(notes), tokens=config.tokens_of(notes, start), end_step=start,
                  steps_per_bar=tune.steps_per_bar, bar_offset=tune.bar_offset, key=tune.key,
                  key_shift=tune.key_shift, tempo_bpm=tune.tempo_bpm, source=tune.source, rhythm=True,
                  meter=tune.meter)


def _following(tune, end, config):
    """The first tokens after the range: a rest up to the next note, then the notes (at most
    ``FOLLOWING_TOKENS``)."""
    after = [note for note in tune.notes if note[0] >= end]
    if not after:
        return []
    return (list(config.tokens_of([], after[0][0] - end)) + list(config.tokens_of(after)))[:FOLLOWING_TOKENS]


@torch.no_grad()
def regenerate_candidates(model, tune, start_bar, end_bar, rule=None, steering=None, *, rng_seed=None,
                          num_variations=1, memory=1.0, repetition_guard=True, **options):
    """``num_variations`` versions of ``tune`` (a ``Melody`` in a rhythm model's encoding) with new notes
    in bars ``start_bar`` .. ``end_bar`` (0-based, ``end_bar`` not included), different ones first; see
    :func:`regenerate`. Returns a list of ``Melody``."""
    rule, steering = rule_and_steering(rule, steering, **options)
    config = getattr(model, "encoding", None)
    if config is not None and not config.rhythm:
        raise SeedError("Regenerating bars needs a model with rhythm (the shipped rhythm.pt): this one gives every "
                        "note the same length, so its notes have no bars.")
    if steering.pins or steering.loop or steering.max_copy:
        raise SeedError("Regenerating bars takes a scale, but not pins, a loop or a copy cap: leave those out.")
    if not isinstance(num_variations, (int, np.integer)) or isinstance(num_variations, bool) or \
            not 1 <= num_variations <= CANDIDATES:
        raise SeedError(f"num_variations must be a whole number from 1 to {CANDIDATES}, got {num_variations!r}.")
    tune = seed_melody(model, tune)
    if not tune.notes:
        raise SeedError("The tune is empty: there are no bars to regenerate.")
    start, end = bar_range(tune, start_bar, end_bar)
    seed = seed_melody(model, _before(tune, start, config))
    scale = steering.constraints(tune, model, 0).scale
    tokens = _fill(model, seed, end - start, _following(tune, end, config), rule, scale, steering.scale_strength,
                   np.random.default_rng(rng_seed), num_variations, memory, repetition_guard)
    kept_before = list(seed.notes)
    kept_after = [note for note in tune.notes if note[0] >= end]
    out = []
    for row in tokens:
        new, _ = config.notes_of(row, start)
        notes = kept_before + new + kept_after
        out.append(Melody(notes=tuple(notes), tokens=config.tokens_of(notes, tune.end_step), end_step=tune.end_step,
                          **{k: getattr(tune, k) for k in ("steps_per_bar", "bar_offset", "key", "key_shift",
                                                           "tempo_bpm", "source", "meter")}, rhythm=True))
    return out


def regenerate(model, tune, start_bar, end_bar, rule=None, steering=None, **sampling):
    """``tune`` with new notes in bars ``start_bar`` .. ``end_bar`` that lead into the notes after them.

    Parameters
    ----------
    model : MelodyLSTM
        A model with rhythm (``load_model``), whose encoding ``tune`` is in.
    tune : Melody
        The whole tune, in the model's key (``encode_midi``, ``melody_from_text``, or a seed joined to
        its continuation with ``seed.then(continuation, model.encoding)``).
    start_bar, end_bar : int
        The bars to redo: 0 is the bar of the tune's first note; ``end_bar`` is not included.
    rule, steering, rng_seed, memory, repetition_guard, **options
        As for ``melody.generate``: a ``SamplingRule`` (or ``temperature``, ``beta``, ``top_k``,
        ``top_p``) and a ``Steering`` with a scale (``scale``, ``scale_strength``); pins, a loop and a
        copy cap are for continuations.

    Returns
    -------
    Melody
        Equal to ``tune`` outside the range (a note that starts before it and sounds into it is cut
        where it starts); inside, new notes and rests that fill it exactly.

    Raises
    ------
    SeedError
        For a range that is not bars of the tune, a model without rhythm, or settings out of range.
    """
    return regenerate_candidates(model, tune, start_bar, end_bar, rule, steering, **sampling)[0]


def _fill(model, seed, span, following, rule, scale, scale_strength, rng, variations, memory, repetition_guard):
    """Token lists that fill ``span`` steps after ``seed``, drawn by weight (see the module).

    The candidates step as one batch: each samples until it has filled the range, then plays the
    tokens that follow the range (scored by the model's own distribution, before any rule or guard),
    then marks time with short rests (not kept, not scored) until the others are done."""
    state = Continuation(model, seed, CANDIDATES, memory, rng)
    pitch, steps = state.pitch_of_token, state.steps_of_token
    weights = np.ones(len(pitch))
    if scale is not None:
        weights[(pitch >= 0) & ~np.isin(pitch % 12, list(scale))] = 1.0 - scale_strength
    short_rest = int(np.flatnonzero((pitch < 0) & (steps == 1))[0])
    start, log_w = state.now.copy(), np.zeros(CANDIDATES)
    played, to_score = [[] for _ in range(CANDIDATES)], [None] * CANDIDATES
    rows = np.arange(CANDIDATES)
    with one_blas_thread():
        while True:
            left = span - (state.now - start)
            filling = left > 0
            for row in np.flatnonzero(~filling):
                if to_score[row] is None:
                    to_score[row] = list(following)
            scoring = np.array([bool(queue) for queue in to_score])
            if not filling.any() and not scoring.any():
                break
            probs = state.distribution()
            chosen = np.full(CANDIDATES, short_rest)
            if filling.any():
                rule_probs = rule.apply(state.guarded(probs) if repetition_guard else probs)
                allowed = (steps[None, :] <= np.maximum(left, 1)[:, None]) & (weights > 0)[None, :]
                drawn, mass = draw_allowed(probs, rule_probs, weights, allowed, rng)
                chosen[filling] = drawn[filling]
                log_w[filling] += np.log(np.maximum(mass[filling], 1e-300))
            for row in np.flatnonzero(scoring):
                chosen[row] = to_score[row].pop(0)
            log_w[scoring] += np.log(np.maximum(probs[rows[scoring], chosen[scoring]], 1e-300))
            for row in np.flatnonzero(filling):
                played[row].append(int(chosen[row]))
            state.advance(chosen)
    return draw_distinct(played, log_w, variations, rng)  # every weight is finite: never empty
