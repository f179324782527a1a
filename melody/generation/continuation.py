"""A batch of melodies being continued token by token: the network's state, each melody's song
memory, and where in time (and in the bar) each one has got to.

``Continuation`` is what every sampler drives: ``distribution()`` gives the model's probabilities of
the next token for every melody of the batch, ``advance(tokens)`` plays the chosen ones, and
``reorder(indices)`` keeps some melodies and copies others (for samplers that resample candidates).
"""
import numbers
from dataclasses import replace

import numpy as np
import torch

from ..data.crops import token_sequence
from ..errors import SeedError
from ..model.calibration import calibrate
from ..model.form import melody_contents
from ..music.encoding import MAX_BAR_STEPS, Melody, position_input
from .batch_memory import BatchEcho, BatchMemory
from .guard import SILENT_BARS, LoopWatch, guard_looping, recent_array, silence_guard
from .kernels import advance_clock, any_guarded
from .plan import BatchPlan
from .stepper import stepper_for


def seed_melody(model, seed):
    """The seed as a ``Melody`` in the model's encoding: a ``Melody`` (re-tokenised if it was encoded
    for another encoding), or a list of MIDI pitches taken as they are (in the model's key), folded
    into range, one eighth note each."""
    config = getattr(model, "encoding", None)
    if config is None:
        raise SeedError("This model has no encoding settings, so its tokens mean nothing yet: load it with "
                        "melody.load_model(path), or set model.encoding to the EncodingConfig it was trained with.")
    if isinstance(seed, Melody):
        _check_grid(seed)
        if seed.rhythm == config.rhythm:
            return _checked(seed, config)
        _check_notes(seed, config)
        notes = [(2 * i, 2, p) for i, p in enumerate(seed.pitches)] if not config.rhythm else list(seed.notes)
        end = notes[-1][0] + notes[-1][1] if notes and not config.rhythm else seed.end_step
        return _checked(Melody(notes=tuple(notes), tokens=config.tokens_of(notes, end), end_step=end,
                               rhythm=config.rhythm, **{k: getattr(seed, k) for k in (
                                   "steps_per_bar", "bar_offset", "key", "key_shift", "tempo_bpm", "source", "meter")}), config)
    pitches = list(seed)
    for pitch in pitches:
        if not isinstance(pitch, numbers.Integral) or isinstance(pitch, bool) or not 0 <= pitch <= 127:
            raise SeedError(f"Seed notes must be MIDI numbers from 0 to 127, got {pitch!r}.")
    notes = tuple((2 * i, 2, config.fold(int(p))) for i, p in enumerate(pitches))
    return Melody(notes=notes, tokens=config.tokens_of(notes), end_step=2 * len(notes), rhythm=config.rhythm,
                  source="a list of pitches")


def _whole(value):
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


_BUILD = ("build it with melody.encode_midi, melody.melody_from_text or melody.melody_from_notes in the model's "
          "encoding (model.encoding)")


def _check_grid(seed):
    """The bar grid of a ``Melody``: what the song memory, the bar echo and the form plan index by."""
    bar, offset = seed.steps_per_bar, seed.bar_offset
    if not _whole(bar) or not 1 <= bar <= MAX_BAR_STEPS:
        raise SeedError(f"A seed's bar must be a whole number of 1 to {MAX_BAR_STEPS} steps, got {bar!r}: {_BUILD}.")
    if not _whole(offset) or not _whole(seed.end_step):
        raise SeedError(f"A seed's bar offset and end must be whole numbers of steps, got {offset!r} and "
                        f"{seed.end_step!r}: {_BUILD}.")


def _check_notes(seed, config):
    """The notes of a ``Melody``: ``(onset, steps, pitch)`` whole numbers, onsets increasing, lengths of
    a step or more, pitches in the model's range."""
    low, high, previous = config.lowest_pitch, config.highest_pitch, None
    for note in seed.notes:
        if len(note) != 3 or not all(_whole(v) for v in note) or note[1] < 1 or not low <= note[2] <= high or (
                previous is not None and note[0] <= previous):
            raise SeedError(f"A seed's notes must be (onset, steps, pitch) whole numbers, onsets increasing, "
                            f"pitches from {low} to {high}; got {str(note)[:40]}: {_BUILD}.")
        previous = note[0]


def _checked(seed, config):
    """``seed`` if its tokens are the model's and span it from its first note to its end (as the
    encoder makes them); a seed of rests alone is the empty seed (there is no bar to go on from)."""
    if not seed.notes:
        return replace(seed, tokens=(), end_step=0)
    _check_notes(seed, config)
    tokens = seed.tokens
    if not all(_whole(t) and 0 <= t < config.vocab_size for t in tokens):
        raise SeedError(f"A seed's tokens must be tokens of the model's encoding (0 to {config.vocab_size - 1}): "
                        f"{_BUILD}.")
    _, steps = config.token_table()
    span = int(steps[np.asarray(tokens, dtype=np.int64)].sum())
    if seed.start_step + span != seed.end_step:
        raise SeedError(f"A seed's tokens span steps {seed.start_step} to {seed.start_step + span}, but it ends at "
                        f"{seed.end_step}: {_BUILD}.")
    return seed


class Continuation:
    """``variations`` continuations of one seed, advanced one token at a time, all as one batch.

    Parameters
    ----------
    model : MelodyLSTM
        With ``.encoding``; in eval mode.
    seed : Melody
        See :func:`seed_melody`.
    variations : int
    memory : float
        How much the song memory, the bar echo and the form plan count: 1 = as fitted, 0 = the LSTM
        alone (then without its length calibration too).
    rng : numpy.random.Generator, optional
        Draws the form plan (``melody.model.form``); without one, or for a checkpoint without a plan,
        there is none.
    """

    @torch.no_grad()
    def __init__(self, model, seed, variations, memory=1.0, rng=None):
        self.model, self.config, self.seed = model, model.encoding, seed
        self.variations = variations
        self.pitch_of_token, self.steps_of_token = self.config.token_table()
        self.weights = (model.memory_weights.cpu().double() * float(memory)).numpy()
        self.echo_weights = (model.echo_weights.cpu().double() * float(memory)).numpy()
        self.memories = self.echoes = None
        onsets = seed.start_step + np.r_[0, np.cumsum(self.steps_of_token[list(seed.tokens)])[:-1]] if seed.tokens \
            else np.zeros(0, dtype=np.int64)
        self.aligned = model.config.memory_aligned
        if self.weights.any():  # built for one melody, then copied for the batch
            self.memories = BatchMemory(1, self.config.vocab_size, model.config.memory_order, self.aligned)
            for token, onset in zip(seed.tokens, onsets):
                self.memories.add([token], [self._bar_position(onset)] if self.aligned else None)
            self.memories.reorder(np.zeros(variations, dtype=np.int64))
        plan = model.form_plan.cpu().double().numpy()
        self.plan = None
        if self.echo_weights.any() or (plan.any() and rng is not None and memory > 0):
            origin = int(onsets[0]) if len(onsets) else 0
            self.echoes = BatchEcho(1, seed.steps_per_bar, seed.bar_offset, origin, self.config.vocab_size)
            for token, onset in zip(seed.tokens, onsets):
                self.echoes.add([token], [int(onset)])
            self.echoes.reorder(np.zeros(variations, dtype=np.int64))
        if plan.any() and rng is not None and memory > 0:
            first_bar = origin - (origin - seed.bar_offset) % seed.steps_per_bar
            self.plan = BatchPlan(plan, variations, seed.steps_per_bar, first_bar, rng)
            whole_bars = (seed.end_step - first_bar) // seed.steps_per_bar if seed.notes else 0
            self.plan.follow(melody_contents(seed, self.config), whole_bars)
            self.plan_weight = self.plan.copy * float(memory)
        self.now = np.full(variations, seed.end_step if seed.notes else 0, dtype=np.int64)  # next onset, in steps
        self.place = self._bar_position(self.now)  # where in its bar ``now`` lies
        self.loops = LoopWatch(np.repeat(recent_array([seed.pitches]), variations, axis=0))  # for the guard
        self.silent = np.zeros(variations, dtype=np.int64)  # steps of rest in a row, for the guard
        self.positions = bool(model.config.position_inputs)
        calibration = model.length_calibration.cpu().double().numpy()
        self.factors = np.exp(calibration) if calibration.any() and memory > 0 else None
        self._start_network(model, seed)

    def _start_network(self, model, seed):
        layers, hidden, device = model.config.num_layers, model.config.hidden_size, next(model.parameters()).device
        model.eval()
        if seed.tokens:  # the seed in one teacher-forced pass, then the numpy stepper
            sequence = token_sequence(seed, self.config)
            positions = torch.tensor(sequence.positions[None], device=device) if self.positions else None
            logits, (h, c) = model(torch.tensor(sequence.tokens[None], device=device), positions)
            first = torch.softmax(logits[:, -1].double(), -1).cpu().numpy()
            self.probs = self._calibrated(np.repeat(first, self.variations, axis=0))
            h, c = h.expand(-1, self.variations, -1), c.expand(-1, self.variations, -1)
        else:
            first = torch.softmax(model.start_log_probs.double(), -1).cpu().numpy()
            self.probs = self._calibrated(np.repeat(first[None], self.variations, 0))
            h = c = torch.zeros(layers, self.variations, hidden)
        self.run = stepper_for(model).start(h, c)

    def _calibrated(self, probs):
        """The network's ``probs`` with the model's length calibration (``melody.model.calibration``), if any."""
        return probs if self.factors is None else calibrate(probs, self.factors)

    def distribution(self):
        """The model's probabilities of the next token, ``[variations, vocab]``: the network's, mixed
        with each melody's song memory, then its bar echo, then what its form plan restates."""
        probs = self.probs
        if self.memories is not None:  # a new array: the mixing below works in place
            probs = self.memories.mix(probs, self.place if self.aligned else None, self.weights)
        else:
            probs = probs.copy()
        if self.echoes is not None and self.echo_weights.any():
            self.echoes.mix_into(probs, self.now, self.echo_weights)
        if self.plan is not None:
            self.plan.decide(self.now)
            if self.plan.lag.any():  # only a bar planned as a restatement proposes anything
                self.echoes.restate(probs, self.now, self.plan.lags_in_steps(), self.plan_weight)
        return probs

    def advance(self, tokens):
        """Play ``tokens`` (one per melody). Returns each melody's new note ``(onset, steps, pitch)``,
        or None where the token was a rest."""
        tokens = np.asarray(tokens, dtype=np.int64)
        onsets, onset_places, silent = self.now, self.place, self.silent
        pitches, steps, self.now, self.place, self.silent = np.empty((5, len(onsets)), dtype=np.int64)
        advance_clock(tokens, self.pitch_of_token, self.steps_of_token, onsets, silent,
                      self.seed.bar_offset, self.seed.steps_per_bar, pitches, steps, self.now, self.place, self.silent)
        notes = [None if p < 0 else (t, s, p) for t, s, p in zip(onsets.tolist(), steps.tolist(), pitches.tolist())]
        self.loops.add(pitches)
        if self.memories is not None:
            self.memories.add(tokens, onset_places if self.aligned else None)
        if self.echoes is not None:
            self.echoes.add(tokens, onsets)
        positions = position_input(self.place, self.seed.steps_per_bar) if self.positions else None
        self.probs = self.run.step_probs(tokens, positions, self.factors)
        return notes

    @property
    def recent(self):
        """Each melody's last pitches, ``[variations, WINDOW]``, oldest first (-1 where there are fewer)."""
        return self.loops.recent

    def _bar_position(self, step):
        """The bar position of ``step`` (a number or an array)."""
        return (step - self.seed.bar_offset) % self.seed.steps_per_bar

    def reorder(self, indices):
        """Keep the melodies at ``indices`` (an int array; repeats allowed)."""
        indices = np.asarray(indices)
        self.run.reorder(indices)
        self.probs, self.now, self.silent = self.probs[indices], self.now[indices], self.silent[indices]
        self.place = self.place[indices]
        for part in (self.loops, self.memories, self.echoes, self.plan):
            if part is not None:
                part.reorder(indices)
        self.variations = len(indices)

    def guarded(self, probs):
        """``probs`` with the repetition guard and the silence guard applied (see ``melody.generation.guard``)."""
        limit = SILENT_BARS * self.seed.steps_per_bar
        if not any_guarded(self.loops.looping, self.silent, limit):
            return probs  # the usual step: no melody loops or has rested too long
        probs = guard_looping(probs, self.loops.looping, self.pitch_of_token)
        return silence_guard(probs, self.silent, self.pitch_of_token < 0, limit)
