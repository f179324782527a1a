"""The encoder: a MIDI file becomes a fixed-duration melody of 37 tokens in C major.

Following the original write-up: onsets are quantised to a 16th-note grid from the file's own
beat map; at every grid step the highest starting note of all non-drum tracks is kept; the piece
is transposed to C major (A minor for minor keys) and folded into MIDI 54..90 by octaves; every
note lasts one step and rests are dropped.
"""
import os
from dataclasses import asdict, dataclass, field

import numpy as np

from . import keys
from .errors import MidiError
from .midi_io import MAX_TRACKS, load_midi
from .notes import HIGHEST_PITCH, LOWEST_PITCH

# Bump whenever the encoder's output could change: it keys the training-data cache.
ENCODER_VERSION = 2
MAX_KEY_WEIGHT_BEATS = 4.0  # a held note counts at most a whole bar towards the key estimate


@dataclass(frozen=True)
class EncodingConfig:
    """Settings of the encoding, stored in every checkpoint."""

    lowest_pitch: int = LOWEST_PITCH
    highest_pitch: int = HIGHEST_PITCH
    steps_per_quarter: int = 4
    transpose_to_c: bool = True
    encoder_version: int = ENCODER_VERSION

    def to_dict(self):
        return asdict(self)


@dataclass(frozen=True)
class Melody:
    """A monophonic melody as the model sees it, with a record of what the encoder did.

    Attributes
    ----------
    tokens : tuple of int
        Vocabulary indices 0..36 (pitch - 54).
    pitches : tuple of int
        MIDI numbers 54..90, transposed to C major / A minor.
    key : str
        Key estimated for the source, e.g. ``"D major"``.
    key_shift : int
        Semitones added to reach C major / A minor (-6..5); pass it to ``notes_to_midi`` to go back.
    tempo_bpm : float
        First tempo of the source, in quarter notes per minute.
    notes_folded : int
        Melody notes moved by octaves into the 54..90 range.
    drum_tracks_dropped : int
        Drum tracks ignored.
    notes_under_melody : int
        Notes dropped because a higher note started on the same 16th.
    notes_in_source : int
        Non-drum notes the source held.
    notes_past_limits : int
        Notes not read because the file is longer than the reading limits (see ``midi_io``).
    tracks_past_limits : int
        Tracks not read because the file has more than ``midi_io.MAX_TRACKS``.
    source : str
        File name or description of the source.
    """

    tokens: tuple
    pitches: tuple
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
    extra: dict = field(default_factory=dict, compare=False)

    def __len__(self):
        return len(self.tokens)

    def summary(self):
        """One line describing what was extracted."""
        shift = f"{self.key_shift:+d} semitones" if self.key_shift else "no shift"
        cut = f"; {self.notes_past_limits} notes past the reading limits left out" if self.notes_past_limits else ""
        cut += f"; {self.tracks_past_limits} tracks past the first {MAX_TRACKS} left out" if self.tracks_past_limits else ""
        return (
            f"{len(self)} notes from {self.notes_in_source}; key {self.key} ({shift} to C); "
            f"{self.notes_folded} folded into range; {self.drum_tracks_dropped} drum tracks dropped{cut}"
        )


def melody_from_events(steps, pitches, weights=None, config=EncodingConfig(), **info):
    """Encode note events already placed on the 16th-note grid.

    Parameters
    ----------
    steps : array of int
        Onset of every note, in grid steps.
    pitches : array of int
        MIDI number of every note.
    weights : array of float, optional
        Weight of every note in the key estimate (duration in beats); equal when omitted.
    config : EncodingConfig
    **info
        Extra ``Melody`` fields (``tempo_bpm``, ``drum_tracks_dropped``, ``source``).
    """
    steps = np.asarray(steps, dtype=np.int64)
    pitches = np.asarray(pitches, dtype=np.int64)
    if len(pitches) == 0:
        return Melody(tokens=(), pitches=(), **info)
    tonic, mode = keys.estimate_key(keys.pitch_class_histogram(pitches, weights))
    shift = keys.shift_to_c(tonic, mode) if config.transpose_to_c else 0
    # Highest pitch per onset step: sort by (step, pitch) and keep the last of each step.
    order = np.lexsort((pitches, steps))
    steps, top = steps[order], pitches[order]
    last_of_step = np.r_[steps[1:] != steps[:-1], True]
    melody = top[last_of_step] + shift
    low, high = config.lowest_pitch, config.highest_pitch
    # Octave folding, vectorised: move below-range notes up and above-range notes down by octaves.
    folded = np.where(melody < low, melody + 12 * ((low - melody + 11) // 12), melody)
    folded = np.where(folded > high, folded - 12 * ((folded - high + 11) // 12), folded)
    return Melody(
        tokens=tuple(int(p - low) for p in folded),
        pitches=tuple(int(p) for p in folded),
        key=keys.key_name(tonic, mode),
        key_shift=int(shift),
        notes_folded=int(np.count_nonzero(folded != melody)),
        notes_under_melody=int(len(pitches) - len(melody)),
        notes_in_source=int(len(pitches)),
        **info,
    )


def melody_from_pitches(pitches, config=EncodingConfig(), source="typed notes"):
    """Encode a plain list of MIDI numbers (a typed or drawn seed), one note per step."""
    return melody_from_events(np.arange(len(pitches)), pitches, config=config, source=source)


def melody_from_pretty_midi(midi, config=EncodingConfig(), source=""):
    """Encode a ``pretty_midi.PrettyMIDI`` object."""
    ticks_per_step = midi.resolution / config.steps_per_quarter
    starts, ends, pitches = [], [], []
    drums = 0
    for instrument in midi.instruments:
        if instrument.is_drum:
            drums += 1
            continue
        for note in instrument.notes:
            starts.append(note.start)
            ends.append(note.end)
            pitches.append(note.pitch)
    tempo_times, tempi = midi.get_tempo_changes()
    tempo = float(tempi[0]) if len(tempi) else 120.0
    info = dict(tempo_bpm=tempo, drum_tracks_dropped=drums, source=source,
                notes_past_limits=getattr(midi, "notes_dropped", 0), tracks_past_limits=getattr(midi, "tracks_dropped", 0))
    if not pitches:
        return Melody(tokens=(), pitches=(), **info)
    start_ticks = np.array([midi.time_to_tick(t) for t in starts], dtype=np.float64)
    end_ticks = np.array([midi.time_to_tick(t) for t in ends], dtype=np.float64)
    steps = np.rint(start_ticks / ticks_per_step).astype(np.int64)
    beats = np.clip((end_ticks - start_ticks) / midi.resolution, 1e-3, MAX_KEY_WEIGHT_BEATS)
    return melody_from_events(steps, pitches, beats, config=config, **info)


def encode_midi(path, config=EncodingConfig()):
    """Extract the melody of a MIDI file, as the model was trained on it.

    Parameters
    ----------
    path : str or os.PathLike
        A Standard MIDI File.
    config : EncodingConfig

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
