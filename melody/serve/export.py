"""A seed and its continuation as one MIDI file: the export the command line and the playground share.

The notes go out in the seed's own key (or left in C), on the seed's bar grid (time 0 is where the
seed's first bar starts, under its time signature), with markers where the seed starts and ends; a
loop is written twice over, so the seam is heard.
"""
from dataclasses import dataclass

from ..generation.steering import looped_once_more
from ..music.keys import key_in_c
from ..music.midi_io import melody_to_midi, step_seconds, write_midi


@dataclass
class Exported:
    """What :func:`export_midi` wrote, for the pictures and the timeline drawn beside it.

    Attributes
    ----------
    seed, continuation : list of (onset_step, duration_steps, pitch)
        The notes as written: in the output key, on the seed's time axis.
    origin : int
        The step that is time 0 (the start of the seed's first bar).
    seed_end_seconds : float
        Where the seed ends and the continuation starts, in seconds.
    key : str
        The key written as the key signature.
    shift : int
        Semitones the notes were moved by (subtracted) from the model's key.
    """

    seed: list
    continuation: list
    origin: int
    seed_end_seconds: float
    key: str
    shift: int


def output_shift(seed, original_key=True):
    """Semitones subtracted from the model's key to write or sound the notes: back to the seed's own key
    (``original_key``), else none (they stay in C major / A minor)."""
    return seed.key_shift if original_key else 0


def bar_start(melody):
    """The step where the bar of the melody's first note starts: time 0 of its audio and MIDI."""
    return melody.bar_start


def export_midi(path, seed, continuation, tempo_bpm, program=0, original_key=True, loop=False):
    """Write ``seed`` then ``continuation`` (``Melody``s in the model's key, as ``generate`` returns
    them) to the MIDI file ``path``; with ``loop``, both once more after the continuation's end.
    ``original_key`` moves them back to the seed's own key (else they stay in C major / A minor).
    Returns the :class:`Exported` notes."""
    shift = output_shift(seed, original_key)
    key = seed.key if original_key else key_in_c(seed.key)
    origin = bar_start(seed)
    moved = lambda notes: [(o, s, p - shift) for o, s, p in notes]  # noqa: E731
    exported = Exported(moved(seed.notes), moved(continuation.notes), origin,
                        (seed.end_step - origin) * step_seconds(tempo_bpm), key, shift)
    again = moved(looped_once_more(seed, continuation)) if loop else []
    midi = melody_to_midi(exported.seed + exported.continuation + again, tempo=tempo_bpm, program=program, key=key,
                          start_step=origin, time_signature=seed.time_signature())
    write_midi(midi, path, [(0.0, "seed"), (exported.seed_end_seconds, "seed ends: continuation")])
    return exported


def export_continuation_midi(path, seed, exported, tempo_bpm, program=0):
    """The continuation of an :func:`export_midi` alone, from the start of its first note's bar."""
    first = exported.continuation[0][0] if exported.continuation else seed.end_step
    write_midi(melody_to_midi(exported.continuation, tempo=tempo_bpm, program=program, key=exported.key,
                              start_step=first - seed.bar_position(first), time_signature=seed.time_signature()),
               path, [])
