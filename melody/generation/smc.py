"""Sampling under constraints (pinned notes, a scale, a seamless loop, a copy cap), by sequential
Monte Carlo over the batched ``Continuation``.

Many candidate continuations ("particles") are sampled together, token by token. At every step each
particle draws its token from the sampling rule's distribution restricted to what the constraints
allow there, so every finished particle meets them exactly. Its weight is multiplied by the
probability the rule gave to the allowed tokens (how much the constraint cost it) and by how well it
is placed for what lies ahead: the distance in pitch to the next pinned note, for the notes left to
reach it (a melody moves a few semitones a note), and, for a loop, the probability of the seed's first
notes after its end. When the weights grow uneven the particles are resampled: the ones heading
towards a pin stepwise multiply, the ones that would have to leap die out. So a pin is reached the way
melodies move, not by a jump at the last note (which is what overwriting a note would give).

The result approximates sampling from the rule's distribution conditioned on the constraints, and the
mean weight estimates the probability of the constraints (``Result.log_evidence``), used by
``bench/constraints.py`` to score infilling.
"""
from dataclasses import dataclass

import numpy as np
import torch

from ..errors import SeedError
from .continuation import Continuation
from .originality import ORDER, pack, window_hash
from .rules import draw_allowed, draw_distinct, one_blas_thread

PARTICLES = 64  # 256 reach pins no better (bench/constraints.py) at 3.4 times the time
STEP_VARIANCE = 9.0  # semitones^2 a melody wanders per note (intervals of about 3 semitones) ...
SPREAD_VARIANCE = 40.0  # ... up to its spread within a phrase (about 6 semitones), however far
# A loop is scored on the seed's first tokens after its end. More of them favour long silences before
# the seam (after a silence a song starts, so the seed's opening is likely): 8 tokens gave 42% rest.
SEAM_TOKENS = 2
RESAMPLE_BELOW = 0.5  # resample when the effective number of particles drops below this share


@dataclass
class Result:
    """What the constrained sampler made: one token list per variation (the continuation's), and
    ``log_evidence``, the log of the mean final weight (an estimate of the probability, under the
    sampling rule, that a continuation meets the constraints)."""

    tokens: list
    log_evidence: float
    resamples: int


class _Copying:
    """The copy cap: which next pitches would make a run longer than ``limit`` notes shared with a
    training song. Conservative: consecutive windows found in the index count as one run even if
    they come from different songs, so the run the report finds (within one song) is never longer."""

    def __init__(self, index, limit, rows):
        self.hashes = index["hashes"].numpy()  # sorted (duplicates, one per song, do not matter here)
        self.limit, self.run = limit, np.zeros(rows, dtype=np.int64)

    def found(self, windows):
        hashes = window_hash(pack(windows))
        where = np.minimum(np.searchsorted(self.hashes, hashes), len(self.hashes) - 1)
        return self.hashes[where] == hashes

    def forbidden(self, last, count, pitch_of_token):
        """``[rows, vocab]``: tokens whose pitch would break the cap, given each row's last
        ``ORDER - 1`` continuation pitches ``last`` and how many it has (``count``)."""
        out = np.zeros((len(last), len(pitch_of_token)), dtype=bool)
        rows = np.flatnonzero((count >= ORDER - 1) & (self.run + ORDER >= self.limit + 1))
        if not len(rows):
            return out
        pitches = np.unique(pitch_of_token[pitch_of_token >= 0])
        windows = np.concatenate([np.repeat(last[rows, None, :], len(pitches), 1),
                                  np.broadcast_to(pitches[None, :, None], (len(rows), len(pitches), 1))], axis=2)
        bad = self.found(windows) & (self.run[rows, None] + 1 + ORDER - 1 > self.limit)
        for i, row in enumerate(rows):
            out[row] = np.isin(pitch_of_token, pitches[bad[i]])
        return out

    def advance(self, last_windows, played):
        """After a note in each row of ``played``: ``last_windows`` are their last ``ORDER`` pitches."""
        found = np.zeros(len(played), dtype=bool)
        full = played & (last_windows >= 0).all(1)
        if full.any():
            found[full] = self.found(last_windows[full])
        self.run = np.where(played, np.where(found, self.run + 1, 0), self.run)

    def reorder(self, indices):
        self.run = self.run[indices]


def _potential(last_pitch, target, notes_to_go):
    """Log-density (up to a constant) of reaching ``target`` from ``last_pitch`` in ``notes_to_go`` notes."""
    variance = np.minimum(STEP_VARIANCE * np.maximum(notes_to_go, 1), SPREAD_VARIANCE)
    return -0.5 * (target - last_pitch) ** 2 / variance - 0.5 * np.log(variance)


class _Plan:
    """The constraints as masks over the vocabulary, for each particle at each step."""

    def __init__(self, constraints, seed, length, config, pitch_of_token, steps_of_token):
        self.c, self.seed, self.length, self.config = constraints, seed, length, config
        self.pitch, self.steps = pitch_of_token, steps_of_token
        self.rest = pitch_of_token < 0
        self.start = seed.end_step if seed.notes else 0
        self.weights = np.ones(len(pitch_of_token))
        if constraints.scale is not None:
            outside = ~self.rest & ~np.isin(pitch_of_token % 12, list(constraints.scale))
            self.weights[outside] = 1.0 - constraints.scale_strength
        self.pin_at = np.full(length + 1, -1, dtype=np.int64)  # next pin's note index from each note index
        following = -1
        for n in range(length, -1, -1):
            if n in constraints.pins:
                following = n
            self.pin_at[n] = following
        self.loop_pitch = seed.pitches[0] if constraints.loop and seed.notes else None
        self.align = constraints.loop and config.rhythm

    def allowed(self, made, now):
        """``[rows, vocab]`` bool: the tokens each particle may play next (``made`` notes so far, at step ``now``)."""
        allowed = np.broadcast_to(self.weights > 0, (len(made), len(self.pitch))).copy()
        index = self.pin_at[np.minimum(made, self.length)]
        for pinned in np.unique(index[index >= 0]):
            rows = np.flatnonzero(index == pinned)
            allowed[rows] &= self._pin(made[rows], now[rows], pinned, self.c.pins[pinned])
        if self.align:
            rows = np.flatnonzero((made == self.length - 1) & (index != made))
            if len(rows):
                allowed[rows] &= self._last_note(allowed[rows], now[rows])
        return allowed

    def _pin(self, made, now, index, pin):
        """``[rows, vocab]``: what keeps ``pin`` (note ``index``) reachable, for rows at ``made`` notes, step ``now``."""
        at = (made == index)[:, None]
        fits = self.pitch == pin.pitch
        if pin.steps is not None:
            fits = fits & (self.steps == pin.steps)
        if pin.onset is None:
            return np.where(at, fits[None], True)
        onset = (self.start + pin.onset - now)[:, None]  # steps left until the pinned note starts
        early = self.rest[None] & (self.steps[None] <= onset)
        at_pin = np.where(onset > 0, early, fits[None])
        # before it: room for the notes up to the pinned one, a step each at least
        to_go = (index - made)[:, None]
        before = np.where(self.rest[None], self.steps[None] + to_go <= onset, self.steps[None] + to_go - 1 <= onset)
        return np.where(at, at_pin, before)

    def _last_note(self, allowed, now):
        """A loop's last note ends where a bar starts, in step with the seed's first note (when a length can)."""
        bar = self.seed.steps_per_bar
        gap = (self.seed.start_step - now) % bar
        gap = np.where(gap == 0, bar, gap)[:, None]
        lengths = (self.steps[None] - gap) % bar == 0
        keep = self.rest[None] | lengths
        possible = (allowed & ~self.rest[None] & lengths).any(1, keepdims=True)
        return np.where(possible, keep, True)

    def potential(self, last_pitch, made):
        """The particles' outlook: how well each is placed to reach the next pin (or the loop's seam)."""
        out = np.zeros(len(made))
        n = np.minimum(made, self.length)
        index = self.pin_at[n]
        has_pin = (index >= 0) & (last_pitch >= 0)
        targets = np.array([self.c.pins[i].pitch if i >= 0 else 0 for i in index])
        out[has_pin] = _potential(last_pitch[has_pin], targets[has_pin], index[has_pin] - made[has_pin] + 1)
        if self.loop_pitch is not None:
            near = (index < 0) & (last_pitch >= 0) & (made < self.length)
            out[near] = _potential(last_pitch[near], self.loop_pitch, self.length - made[near] + 1)
        return out

    def tail(self, now):
        """Rest tokens that bring a loop to the next bar line where its last note could not."""
        if not self.align:
            return []
        gap = (self.seed.start_step - now) % self.seed.steps_per_bar
        return list(self.config.tokens_of([], gap))


def _log(x):
    return np.log(np.maximum(x, 1e-300))


def _systematic(weights, count, rng):
    positions = (rng.random() + np.arange(count)) / count
    return np.minimum(np.searchsorted(np.cumsum(weights), positions), len(weights) - 1)


class _Particles:
    """The candidates still being sampled: their network state, notes so far, weights, and what each
    must still play after its last note (a loop's closing rests and the seam)."""

    def __init__(self, state, count, copying):
        self.state, self.copying = state, copying
        self.made = np.zeros(count, dtype=np.int64)
        self.played = [[] for _ in range(count)]  # each one's continuation tokens
        self.pitches = np.full((count, ORDER), -1, dtype=np.int64)  # last continuation pitches (copy cap)
        self.forced = [[] for _ in range(count)]
        self.log_w = np.zeros(count)
        self.outlook = np.zeros(count)

    def keep(self, indices):
        """Keep the particles at ``indices`` (repeats copy one)."""
        self.state.reorder(indices)
        if self.copying is not None:
            self.copying.reorder(indices)
        self.made, self.pitches = self.made[indices], self.pitches[indices]
        self.log_w, self.outlook = self.log_w[indices], self.outlook[indices]
        self.played = [list(self.played[i]) for i in indices]
        self.forced = [list(self.forced[i]) for i in indices]


@torch.no_grad()
def sample(model, seed, length, constraints, rule, rng, variations=1, memory=1.0, repetition_guard=True,
           particles=None):
    """Continuations of ``seed`` (a ``Melody`` in the model's encoding) that meet ``constraints``.

    ``rule`` is a ``SamplingRule``; ``rng`` a numpy Generator. Returns a
    :class:`Result` with ``variations`` distinct continuations where the particles allow.

    Particles that have finished leave the batch (the network then steps only the others); weights
    are kept on one scale (after resampling each particle carries the mean weight), so that finished
    and unfinished particles compare, and the mean of all of them estimates the evidence.
    """
    count = max(particles or PARTICLES, variations)
    state = Continuation(model, seed, count, memory, rng)
    plan = _Plan(constraints, seed, length, model.encoding, state.pitch_of_token, state.steps_of_token)
    copying = _Copying(model.info["originality"], constraints.max_copy, count) if constraints.max_copy else None
    seam = list(seed.tokens[:SEAM_TOKENS]) if constraints.loop else []
    live = _Particles(state, count, copying)
    done_tokens, done_log_w = [], []
    resamples = 0
    with one_blas_thread():
        for _ in range(4 * length + 16 + SEAM_TOKENS + 2):
            if not len(live.made):
                break
            probs = state.distribution()
            rule_probs = rule.apply(state.guarded(probs) if repetition_guard else probs)
            allowed = plan.allowed(live.made, state.now)
            if copying is not None:
                allowed &= ~copying.forbidden(live.pitches[:, 1:], live.made, state.pitch_of_token)
            dead = ~allowed.any(1)  # nothing this particle could play keeps every constraint: it dies
            allowed[dead] = True
            chosen, mass = draw_allowed(probs, rule_probs, plan.weights, allowed, rng)
            going = np.array([not f for f in live.forced])
            for row in np.flatnonzero(~going):  # forced tokens (a loop's seam) are scored, not chosen
                chosen[row] = live.forced[row].pop(0)
            live.log_w += np.where(going, _log(mass), _log(probs[np.arange(len(chosen)), chosen]))
            live.log_w[dead & going] = -np.inf
            if np.isneginf(live.log_w).all() and not done_log_w:
                raise SeedError("These constraints cannot be met together: every candidate continuation ran out "
                                "of notes that keep them (a scale, the copy cap and the pins leave none). Loosen one.")
            pitch = state.pitch_of_token[chosen]
            notes = going & (pitch >= 0)
            live.made += notes
            for row in np.flatnonzero(going):
                live.played[row].append(int(chosen[row]))
            live.pitches[notes] = np.column_stack([live.pitches[notes, 1:], pitch[notes]])
            if copying is not None:
                copying.advance(live.pitches, notes)
            state.advance(chosen)
            last = state.recent[:, -1]
            outlook = np.where(going, plan.potential(last, live.made), 0.0)
            live.log_w += outlook - live.outlook
            live.outlook = outlook
            for row in np.flatnonzero(going & (live.made >= length)):  # this particle's last note
                tail = plan.tail(int(state.now[row]))
                live.played[row].extend(tail)
                live.forced[row] = tail + seam
            finished = (live.made >= length) & np.array([not f for f in live.forced])
            if finished.any():
                done_tokens += [live.played[r] for r in np.flatnonzero(finished)]
                done_log_w += live.log_w[finished].tolist()
                live.keep(np.flatnonzero(~finished))
            if len(live.made) > 1 and 0 < _effective(live.log_w) < RESAMPLE_BELOW * len(live.made):
                mean = _log_mean(live.log_w)
                w = np.exp(live.log_w - live.log_w.max())
                live.keep(_systematic(w / w.sum(), len(w), rng))
                live.log_w[:] = mean
                resamples += 1
    done_tokens += live.played  # none left, unless a particle never finished (then it is cut where it got)
    done_log_w = np.array(done_log_w + live.log_w.tolist())
    chosen = draw_distinct(done_tokens, done_log_w, variations, rng)
    if not chosen:
        raise SeedError("These constraints cannot be met together: no candidate continuation kept them all. "
                        "Loosen one (fewer pins, a wider scale, a higher copy cap).")
    return Result(chosen, float(_log_mean(done_log_w)), resamples)


def _effective(log_w):
    """The effective number of particles of these log weights."""
    if np.isneginf(log_w).all():
        return 0.0
    w = np.exp(log_w - log_w.max())
    return w.sum() ** 2 / (w ** 2).sum()


def _log_mean(log_w):
    top = log_w.max()
    if np.isneginf(top):
        return -np.inf
    return top + np.log(np.exp(log_w - top).mean())
