"""The encoder: a piece of music becomes a ``Melody`` (notes with onsets and lengths on the 16th-note
grid, in C major / A minor) and the model's tokens.

Two encodings, both set by an ``EncodingConfig`` stored in every checkpoint:

- **classic** (``rhythm=False``), the 2020 write-up's: at every 16th step the highest starting note
  of all parts (``extraction="skyline"``), rests dropped, every note the same length (played as an
  eighth); 37 tokens, one per pitch from MIDI 54 to 90.
- **rhythm** (``rhythm=True``), the default: the melody voice of the arrangement
  (``extraction="melody"``, see ``melody.music.extraction``) with its rests, each note or rest one token
  of (pitch or rest, length of 1 to 16 sixteenths): 38 x 16 = 608 tokens. Why one token per note and
  not Magenta's note-on / hold / rest per 16th: a token is a note, so "bits per note", the song
  memory's contexts and the originality index all count notes as before, and a 256-note
  continuation is 256 steps of the network, not 600-1000. The model is also told where in the bar
  each next note starts (``Melody.next_positions``), from the file's time signature.

``EncodingConfig`` is the one owner of the conversions: pitch <-> token <-> (onset, length), the
octave fold into the pitch range and the key shift.
"""
import os
from dataclasses import asdict, dataclass, field, replace

import numpy as np

from ..errors import MidiError, SeedError
from . import keys
from .midi_io import MAX_TRACKS, load_midi
from .notes import HIGHEST_PITCH, LOWEST_PITCH, STEPS_PER_WHOLE, format_notes, format_timed_notes

# Bump whenever the encoder's output could change: it keys the training-data cache.
ENCODER_VERSION = 3
MAX_KEY_WEIGHT_BEATS = 4.0  # a held note counts at most a whole bar towards the key estimate
CLASSIC_STEPS = 2  # the classic encoding plays every note as an eighth note
BAR_POSITIONS = 32  # bar positions the model tells apart (a 4/4 bar has 16, 12/8 has 24)
METER_CLASSES = (8, 12, 16, 24)  # steps per bar the model knows (2/4, 3/4 and 6/8, 4/4, 12/8); others share one
MAX_BAR_STEPS = 64  # the longest bar a time signature may give (16/4); longer ones are taken as 4/4


@dataclass(frozen=True)
class EncodingConfig:
    """Settings of the encoding, stored in every checkpoint; the one owner of token conversions.

    Attributes
    ----------
    lowest_pitch, highest_pitch : int
        The pitch range, in MIDI numbers; notes outside it are folded by octaves.
    steps_per_quarter : int
        Grid steps per quarter note (4: the 16th-note grid).
    transpose_to_c : bool
        Move every piece to C major (a minor piece to A minor).
    extraction : str
        ``"skyline"`` (the highest note at each onset, the write-up's) or ``"melody"`` (the melody voice).
    rhythm : bool
        Tokens carry lengths and rests (see the module's docstring); False is the classic encoding.
    max_steps : int
        The longest note or rest one token holds, in steps (longer rests take several tokens; longer
        notes are cut, the rest of their time becoming a rest).
    """

    lowest_pitch: int = LOWEST_PITCH
    highest_pitch: int = HIGHEST_PITCH
    steps_per_quarter: int = STEPS_PER_WHOLE // 4
    transpose_to_c: bool = True
    extraction: str = "skyline"
    rhythm: bool = False
    max_steps: int = 16
    encoder_version: int = ENCODER_VERSION

    def to_dict(self):
        return asdict(self)

    @property
    def kind(self):
        """``"rhythm"`` or ``"classic"``: how pages and summaries name the encoding."""
        return "rhythm" if self.rhythm else "classic"

    @property
    def pitch_count(self):
        return self.highest_pitch - self.lowest_pitch + 1

    @property
    def pitch_slots(self):
        """Pitches, plus the rest with rhythm."""
        return self.pitch_count + (1 if self.rhythm else 0)

    @property
    def length_slots(self):
        """Lengths a token can have: 1 to ``max_steps`` with rhythm, one (an eighth) without."""
        return self.max_steps if self.rhythm else 1

    @property
    def vocab_size(self):
        return self.pitch_slots * self.length_slots

    def fold(self, pitch):
        """``pitch`` moved by whole octaves into the range."""
        low, high = self.lowest_pitch, self.highest_pitch
        return int(pitch + 12 * ((low - pitch + 11) // 12) if pitch < low else
                   pitch - 12 * ((pitch - high + 11) // 12) if pitch > high else pitch)

    def token(self, pitch, steps=CLASSIC_STEPS):
        """The token of a note (``pitch`` a MIDI number in range) or rest (``pitch`` None), ``steps`` long."""
        if pitch is None and not self.rhythm:
            raise ValueError("the classic encoding has no rests")
        slot = self.pitch_count if pitch is None else int(pitch) - self.lowest_pitch
        if not 0 <= slot < self.pitch_slots:
            raise ValueError(f"pitch {pitch} is outside {self.lowest_pitch}..{self.highest_pitch}")
        length = min(max(int(steps), 1), self.max_steps) - 1 if self.rhythm else 0
        return slot * self.length_slots + length

    def pitch_of(self, token):
        """The MIDI pitch of a token, None for a rest."""
        slot = int(token) // self.length_slots
        return None if slot == self.pitch_count else slot + self.lowest_pitch

    def steps_of(self, token):
        """The length of a token, in steps."""
        return int(token) % self.length_slots + 1 if self.rhythm else CLASSIC_STEPS

    def token_table(self):
        """``(pitch, steps)`` arrays of every token (pitch -1 for the rest), for vectorised lookups."""
        tokens = np.arange(self.vocab_size)
        slots, lengths = tokens // self.length_slots, tokens % self.length_slots
        pitches = np.where(slots == self.pitch_count, -1, slots + self.lowest_pitch)
        steps = lengths + 1 if self.rhythm else np.full(self.vocab_size, CLASSIC_STEPS)
        return pitches, steps

    def tokens_of(self, notes, end_step=None):
        """Tokens of notes ``(onset, steps, pitch)`` (in range, onsets increasing). With rhythm, gaps
        become rests (a final one up to ``end_step``), and a note is cut where the next one starts."""
        if not self.rhythm:
            return tuple(int(p) - self.lowest_pitch for _, _, p in notes)
        tokens, now = [], notes[0][0] if notes else 0
        for i, (onset, steps, pitch) in enumerate(notes):
            self._rest(tokens, onset - now)
            following = notes[i + 1][0] if i + 1 < len(notes) else None
            steps = max(1, min(steps, self.max_steps, (following - onset) if following is not None else steps))
            tokens.append(self.token(pitch, steps))
            now = onset + steps
        if end_step is not None:
            self._rest(tokens, end_step - now)
        return tuple(tokens)

    def _rest(self, tokens, steps):
        while steps > 0:
            tokens.append(self.token(None, min(steps, self.max_steps)))
            steps -= self.max_steps

    def notes_of(self, tokens, start_step=0):
        """``(notes, end_step)`` of tokens played from ``start_step``: notes ``(onset, steps, pitch)``."""
        notes, now = [], start_step
        for token in tokens:
            pitch, steps = self.pitch_of(token), self.steps_of(token)
            if pitch is not None:
                notes.append((now, steps, pitch))
            now += steps
        return notes, now


# The field defaults above are the classic encoding's, because checkpoints written before the rhythm
# encoding existed store only those fields. Every function that takes an encoding defaults to RHYTHM,
# the shipped default model's.
CLASSIC = EncodingConfig()
RHYTHM = EncodingConfig(extraction="melody", rhythm=True)


@dataclass(frozen=True)
class Melody:
    """A monophonic melody as the model sees it, with a record of what the encoder did.

    Attributes
    ----------
    notes : tuple of (onset_step, duration_steps, pitch)
        On the 16th-note grid, onsets increasing, pitches in the model's key and range (MIDI numbers);
        rests are the gaps. With the classic encoding every note is an eighth (onsets 0, 2, 4 ...).
    tokens : tuple of int
        The model's tokens for these notes (see ``EncodingConfig``).
    end_step : int
        Where the melody ends (after its last note, or its final rest).
    steps_per_bar : int
        Length of a bar from the first time signature (16 for 4/4, 12 for 3/4 and 6/8).
    bar_offset : int
        A step where a bar starts (bars start every ``steps_per_bar`` from there).
    key : str
        Key estimated for the source, e.g. ``"D major"``.
    key_shift : int
        Semitones added to reach C major / A minor (-6..5); subtract it to go back.
    tempo_bpm : float
        First tempo of the source, in quarter notes per minute.
    notes_folded, drum_tracks_dropped, notes_under_melody, notes_in_source, notes_past_limits, tracks_past_limits : int
        What the encoder did: notes moved into range by octaves, drum tracks ignored, notes of the
        other voices (or under the melody) left out, non-drum notes in the source, notes and tracks
        not read past the reading limits (see ``midi_io``).
    source : str
        File name or description of the source.
    rhythm : bool
        Whether the tokens carry lengths and rests.
    meter : tuple of (beats, beat), optional
        The time signature as written (typed ``6/8``, or on the grid); None: the usual one for
        ``steps_per_bar`` (see :meth:`time_signature`).
    """

    notes: tuple
    tokens: tuple
    end_step: int = 0
    steps_per_bar: int = 16
    bar_offset: int = 0
    key: str = "C major"
    key_shift: int = 0
    tempo_bpm: float = 120.0
    notes_folded: int = 0
    drum_tracks_dropped: int = 0
    notes_under_melody: int = 0
    notes_in_source: int = 0
    notes_past_limits: int = 0
    tracks_past_limits: int = 0
    source: str = ""
    rhythm: bool = False
    meter: tuple = None
    extra: dict = field(default_factory=dict, compare=False)

    def __len__(self):
        return len(self.notes)

    @property
    def pitches(self):
        """The notes' pitches, in order."""
        return tuple(p for _, _, p in self.notes)

    @property
    def start_step(self):
        return self.notes[0][0] if self.notes else 0

    def original_notes(self):
        """The notes in the source's own key (``key_shift`` undone)."""
        return [(onset, steps, pitch - self.key_shift) for onset, steps, pitch in self.notes]

    def original_pitches(self):
        return [pitch - self.key_shift for pitch in self.pitches]

    def time_signature(self):
        """``(beats, beat)`` of the bar: the meter as written, else 4/4, 3/4, 2/4 ... for its length."""
        return tuple(self.meter) if self.meter else signature_of(self.steps_per_bar)

    @property
    def bar_start(self):
        """The step where the bar of the first note starts: bar 0, time 0 of the melody's audio and MIDI."""
        return self.start_step - self.bar_position(self.start_step)

    @property
    def bar_count(self):
        """How many bars the melody spans, from :attr:`bar_start` to its end (a bar begun counts)."""
        return -(-(self.end_step - self.bar_start) // self.steps_per_bar) if self.notes else 0

    def bar_position(self, step):
        """Where ``step`` falls in its bar, 0 .. steps_per_bar - 1."""
        return (int(step) - self.bar_offset) % self.steps_per_bar

    def summary(self):
        """One line describing what was extracted."""
        shift = f"{self.key_shift:+d} semitones" if self.key_shift else "no shift"
        cut = f"; {self.notes_past_limits} notes past the reading limits left out" if self.notes_past_limits else ""
        cut += f"; {self.tracks_past_limits} tracks past the first {MAX_TRACKS} left out" if self.tracks_past_limits else ""
        bar_count = round(self.end_step / self.steps_per_bar)
        bars = f", {bar_count} bar{'' if bar_count == 1 else 's'}" if self.rhythm else ""
        return (f"{len(self)} melody notes{bars}, taken from the {self.notes_in_source} notes of all its non-drum "
                f"tracks; key {self.key} ({shift} to C); "
                f"{self.notes_folded} folded into range; {self.drum_tracks_dropped} drum tracks dropped{cut}")

    def describe(self):
        """``"15 notes from typed notes (D major, played by the model -2 semitones in C): D4/8 ..."``."""
        from .notes import DEFAULT_STEPS, format_timed_notes

        shift = f", played by the model {self.key_shift:+d} semitones in C" if self.key_shift else ""
        items = timed_items(self.original_notes(), self.end_step) if self.rhythm \
            else [(pitch, DEFAULT_STEPS) for pitch in self.original_pitches()]  # eighths, written without a length
        text = format_timed_notes(items, self.time_signature())
        return f"{len(self)} notes from {self.source} ({self.key}{shift}): {text}"

    def part(self, start, count, config):
        """Notes ``start .. start + count`` as a melody of their own, moved back by whole bars so that
        the first bar is the first one and bar positions stay as they were."""
        notes = list(self.notes[start : start + count])
        if not notes:
            return replace(self, notes=(), tokens=(), end_step=0)
        first = notes[0][0]
        shift = first - self.bar_position(first)
        notes = [(onset - shift, steps, pitch) for onset, steps, pitch in notes]
        following = self.notes[start + count][0] - shift if start + count < len(self.notes) else self.end_step - shift
        end = max(notes[-1][0] + notes[-1][1], following if config.rhythm else notes[-1][0] + notes[-1][1])
        source = f"{self.source} (notes {start}-{start + len(notes) - 1})"
        return replace(self, notes=tuple(notes), tokens=config.tokens_of(notes, end), end_step=end, bar_offset=0,
                       source=source)

    def then(self, continuation, config, source="a continued result"):
        """This melody followed by ``continuation`` (notes on the same time axis, after this one's end)."""
        notes = list(self.notes) + list(continuation.notes)
        end = max(continuation.end_step, self.end_step)
        return replace(self, notes=tuple(notes), tokens=config.tokens_of(notes, end), end_step=end, source=source)

    def position_inputs(self, config):
        """For every token, where the following token starts in its bar (see :func:`position_input`):
        what the model is told alongside each token. An int array."""
        _, steps = config.token_table()
        ends = self.start_step + np.cumsum(steps[np.asarray(self.tokens, dtype=np.int64)])
        return position_input((ends - self.bar_offset) % self.steps_per_bar, self.steps_per_bar)


def meter_class(steps_per_bar):
    """Index of a bar length among ``METER_CLASSES`` (the last index for any other)."""
    return METER_CLASSES.index(steps_per_bar) if steps_per_bar in METER_CLASSES else len(METER_CLASSES)


def position_input(position, steps_per_bar):
    """The model's position input for bar position(s) ``position`` in bars of ``steps_per_bar`` steps:
    ``meter class * BAR_POSITIONS + position`` (positions past ``BAR_POSITIONS`` wrap)."""
    return meter_class(steps_per_bar) * BAR_POSITIONS + np.asarray(position, dtype=np.int64) % BAR_POSITIONS


def timed_items(notes, end_step):
    """``[(pitch or None, steps), ...]`` of notes with their rests, as typed notes are written."""
    items, now = [], notes[0][0] if notes else 0
    for onset, steps, pitch in notes:
        if onset > now:
            items.append((None, onset - now))
        items.append((pitch, steps))
        now = onset + steps
    if end_step > now:
        items.append((None, end_step - now))
    return items


def notes_text(melody, key_shift=0):
    """A melody's notes as they are typed (with lengths and rests for the rhythm encoding), moved by
    ``-key_shift`` semitones (``melody.key_shift``: back to its own key)."""
    notes = [(o, s, p - key_shift) for o, s, p in melody.notes]
    if not melody.rhythm:
        return format_notes([p for *_, p in notes])
    return format_timed_notes(timed_items(notes, melody.end_step))


def signature_of(steps_per_bar):
    """The usual time signature of a bar of ``steps_per_bar`` sixteenths: 16 -> 4/4, 12 -> 3/4, 14 -> 7/8."""
    for beat in (4, 8, 16):
        if steps_per_bar % (16 // beat) == 0:
            return steps_per_bar // (16 // beat), beat


def meter_of(numerator, denominator, steps_per_quarter=4):
    """Steps per bar of a time signature (4/4 -> 16, 6/8 -> 12); a whole bar (16 at 4 steps a quarter)
    for a signature that makes no bar on the grid, or one longer than ``MAX_BAR_STEPS`` (a 255/1 bar)."""
    steps = numerator * steps_per_quarter * 4 / denominator if numerator and denominator else 0
    fits = 1 <= steps <= MAX_BAR_STEPS * steps_per_quarter / 4 and float(steps).is_integer()
    return int(steps) if fits else 4 * steps_per_quarter


def melody_from_notes(onsets, steps, pitches, config, key_pitches=None, key_weights=None, steps_per_bar=16,
                      bar_offset=0, end_step=None, **info):
    """Encode monophonic notes already on the grid: estimate the key, move to C, fold into range.

    Parameters
    ----------
    onsets, steps, pitches : arrays of int
        Onset and length in grid steps, and MIDI number, of every melody note (in any order; two
        notes on one onset keep the higher).
    config : EncodingConfig
    key_pitches, key_weights : arrays, optional
        The notes the key is estimated from (default the melody's own) and their weights (beats).
    steps_per_bar, bar_offset : int
        The bar grid (see ``Melody``).
    end_step : int, optional
        Where the melody ends (default: after its last note).
    **info
        Other ``Melody`` fields (``tempo_bpm``, ``source``, counts).
    """
    onsets, steps = np.asarray(onsets, dtype=np.int64), np.asarray(steps, dtype=np.int64)
    pitches = np.asarray(pitches, dtype=np.int64)
    base = dict(steps_per_bar=int(steps_per_bar), bar_offset=int(bar_offset), rhythm=config.rhythm, **info)
    if len(pitches) == 0:
        return Melody(notes=(), tokens=(), **base)
    key_pitches = pitches if key_pitches is None else np.asarray(key_pitches)
    tonic, mode = keys.estimate_key(keys.pitch_class_histogram(key_pitches, key_weights))
    shift = keys.shift_to_c(tonic, mode) if config.transpose_to_c else 0
    order = np.lexsort((pitches, onsets))  # by onset; on one onset the highest last
    onsets, steps, pitches = onsets[order], steps[order], pitches[order]
    last = np.r_[onsets[1:] != onsets[:-1], True]
    onsets, steps, moved = onsets[last], np.maximum(steps[last], 1), pitches[last] + shift
    folded = np.array([config.fold(p) for p in moved])
    if not config.rhythm:  # every note an eighth, rests dropped
        onsets, steps = np.arange(len(folded)) * CLASSIC_STEPS, np.full(len(folded), CLASSIC_STEPS)
    steps = np.minimum(steps, config.max_steps)  # a longer note is cut: its tokens say so too
    notes = tuple((int(o), int(s), int(p)) for o, s, p in zip(onsets, steps, folded))
    end = max(int(onsets[-1] + steps[-1]), int(end_step or 0)) if config.rhythm else int(onsets[-1] + steps[-1])
    notes = _cut_overlaps(notes)
    return Melody(notes=notes, tokens=config.tokens_of(notes, end), end_step=end, key=keys.key_name(tonic, mode),
                  key_shift=int(shift), notes_folded=int(np.count_nonzero(folded != moved)), **base)


def _cut_overlaps(notes):
    """A note ends where the next one starts (a monophonic line)."""
    out = []
    for i, (onset, steps, pitch) in enumerate(notes):
        if i + 1 < len(notes):
            steps = min(steps, notes[i + 1][0] - onset)
        out.append((onset, max(1, steps), pitch))
    return tuple(out)


def melody_from_pitches(pitches, config=RHYTHM, source="typed notes"):
    """Encode a plain list of MIDI numbers (drawn or typed without lengths): eighth notes, no rests."""
    onsets = np.arange(len(pitches)) * CLASSIC_STEPS
    return melody_from_notes(onsets, np.full(len(pitches), CLASSIC_STEPS), pitches, config, source=source,
                             notes_in_source=len(pitches))


def notes_of_items(items):
    """Notes and rests ``[(pitch or None, steps), ...]`` played one after another from step 0:
    ``(onsets, steps, pitches, end_step)`` of the notes."""
    onsets, steps, pitches, now = [], [], [], 0
    for pitch, length in items:
        if pitch is not None:
            onsets.append(now)
            steps.append(length)
            pitches.append(pitch)
        now += length
    return onsets, steps, pitches, now


def melody_from_items(items, config=RHYTHM, source="typed notes", meter=None):
    """Encode typed notes and rests ``[(pitch or None, steps), ...]`` (see ``notes.parse_timed_notes``)
    from a bar's start, in ``meter`` ``(beats, beat)`` (default 4/4): it sets the bars, and so the bar
    positions the model is told. The classic encoding keeps the pitches only."""
    from .notes import meter_steps

    onsets, steps, pitches, now = notes_of_items(items)
    # The key from note counts: for a short typed tune, weighting by length misleads Krumhansl-
    # Schmuckler (Ode to Joy's long E and D made it "E minor"); counts name all the examples' keys.
    return melody_from_notes(onsets, steps, pitches, config, end_step=now, source=source,
                             notes_in_source=len(pitches), steps_per_bar=meter_steps(meter) if meter else STEPS_PER_WHOLE,
                             meter=tuple(meter) if meter else None)


def _time_signature(midi, steps_per_quarter):
    """``(steps per bar, step of a bar start, (beats, beat))`` from the file's first time signature (4/4
    at 0 without one; the meter None where the signature made no bar and 4/4 was taken instead)."""
    changes = sorted(midi.time_signature_changes, key=lambda t: t.time)
    if not changes:
        return 4 * steps_per_quarter, 0, None
    first = changes[0]
    bar = meter_of(first.numerator, first.denominator, steps_per_quarter)
    start = int(round(midi.time_to_tick(first.time) / midi.resolution * steps_per_quarter))
    written = first.numerator * steps_per_quarter * 4 == bar * first.denominator  # not the 4/4 fallback
    return bar, start % bar, (int(first.numerator), int(first.denominator)) if written else None


def melody_from_pretty_midi(midi, config=RHYTHM, source=""):
    """Encode a ``pretty_midi.PrettyMIDI``: the melody the config's ``extraction`` finds, on the grid."""
    from .extraction import melody_notes

    per_quarter = config.steps_per_quarter
    drums = sum(1 for i in midi.instruments if i.is_drum)
    everything = [n for i in midi.instruments if not i.is_drum for n in i.notes]
    tempi = midi.get_tempo_changes()[1]
    info = dict(tempo_bpm=float(tempi[0]) if len(tempi) else 120.0, drum_tracks_dropped=drums, source=source,
                notes_past_limits=getattr(midi, "notes_dropped", 0), notes_in_source=len(everything),
                tracks_past_limits=getattr(midi, "tracks_dropped", 0))
    if not everything:
        return Melody(notes=(), tokens=(), rhythm=config.rhythm, **info)
    bar, offset, meter = _time_signature(midi, per_quarter)  # the meter as written: a 6/8 file stays in 6/8
    found = melody_notes(midi, method=config.extraction)  # start, end, pitch, part, beat
    beats = found[:, 4]
    end_beats = np.array([midi.time_to_tick(t) for t in found[:, 1]]) / midi.resolution
    onsets = np.rint(beats * per_quarter).astype(np.int64)
    steps = np.maximum(np.rint(end_beats * per_quarter).astype(np.int64) - onsets, 1)
    starts = np.array([midi.time_to_tick(n.start) for n in everything]) / midi.resolution
    ends = np.array([midi.time_to_tick(n.end) for n in everything]) / midi.resolution
    weights = np.clip(ends - starts, 1e-3, MAX_KEY_WEIGHT_BEATS)
    melody = melody_from_notes(onsets, steps, found[:, 2].astype(np.int64), config,
                               key_pitches=[n.pitch for n in everything], key_weights=weights,
                               steps_per_bar=bar, bar_offset=offset, **info)
    return replace(melody, notes_under_melody=len(everything) - len(melody), meter=meter)


def encode_midi(path, config=RHYTHM):
    """Extract the melody of a MIDI file, as a model with this encoding was trained on it.

    Parameters
    ----------
    path : str or os.PathLike
        A Standard MIDI File.
    config : EncodingConfig
        The encoding (a model's is ``model.encoding``); by default the rhythm one (``RHYTHM``), the
        default model's: pass ``CLASSIC`` for the classic checkpoint's.

    Returns
    -------
    Melody

    Raises
    ------
    MidiError
        When the file cannot be read or has no notes outside drum tracks.
    """
    name = os.path.basename(str(path))
    melody = melody_from_pretty_midi(load_midi(path), config=config, source=name)
    if len(melody) == 0:
        what = "only drum tracks" if melody.drum_tracks_dropped else "no notes"
        raise MidiError(f"'{name}' has {what}, so there is no melody to use. Choose a file with a melody track.")
    return melody


def melody_from_text(text, config=RHYTHM, source="typed notes"):
    """Encode typed notes (``"C4/8 D4/8 E4/4 r/4"``, or plain ``"C4 D4 E4"`` for eighths), after an
    optional meter (``"3/4 A4/4 C5/2"``; default 4/4)."""
    from .notes import parse_timed_note, split_meter

    meter, words = split_meter(text)
    items = [parse_timed_note(word) for word in words]
    if not any(pitch is not None for pitch, _ in items):
        raise SeedError("The seed is empty: type notes such as C4 D4 E4 G4 (with lengths: C4/4 D4/8 E4/8 r/4).")
    return melody_from_items(items, config, source, meter)
