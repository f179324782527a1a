"""Reading MIDI files leniently and writing melodies back to MIDI."""
import io
import os
import warnings

import mido
import pretty_midi

from .errors import MidiError, SeedError

HINT = "Use a Standard MIDI File (.mid/.midi), e.g. one exported from a notation program or a DAW."


def load_midi(path):
    """Read a MIDI file into a ``pretty_midi.PrettyMIDI``, forgiving small faults.

    Data bytes above 127 (seen in real files) are clipped to 127 instead of rejecting the file.

    Raises
    ------
    MidiError
        When the file cannot be opened or is not a readable MIDI file.
    """
    name = os.path.basename(str(path))
    try:
        with open(path, "rb") as handle:
            data = handle.read()
    except OSError as exc:
        raise MidiError(f"Cannot open '{name}': {exc.strerror or exc}.") from None
    return load_midi_bytes(data, name)


def load_midi_bytes(data, name="file"):
    """Like :func:`load_midi`, from the bytes of a file; ``name`` is only used in messages."""
    if not data:
        raise MidiError(f"'{name}' is empty. {HINT}")
    if not data.startswith(b"MThd"):
        raise MidiError(f"'{name}' is not a MIDI file: it does not start with a MIDI header. {HINT}")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            midi = mido.MidiFile(file=io.BytesIO(data), clip=True)
            return pretty_midi.PrettyMIDI(mido_object=midi)
    except Exception as exc:  # mido and pretty_midi raise many types on damaged files
        reason = str(exc) or type(exc).__name__
        raise MidiError(f"'{name}' could not be read as MIDI ({reason}). The file may be damaged. {HINT}") from None


def notes_to_midi(pitches, tempo=120.0, program=0, key_shift=0, note_beats=0.5, velocity=96):
    """A one-track MIDI file with every pitch lasting the same time, one after another.

    Parameters
    ----------
    pitches : list of int
        MIDI note numbers, in order.
    tempo : float
        Tempo in beats (quarter notes) per minute.
    program : int
        General MIDI program, 0..127 (0 = Acoustic Grand Piano).
    key_shift : int
        The shift that brought the melody to C (``Melody.key_shift``); the notes are moved back by
        ``-key_shift`` semitones so the output sounds in the seed's original key. 0 keeps them as they are.
    note_beats : float
        Length of every note in beats (0.5 = eighth notes).
    velocity : int
        Loudness of every note, 1..127.

    Returns
    -------
    pretty_midi.PrettyMIDI
    """
    if not 0 <= int(program) <= 127:
        raise SeedError(f"Instrument program {program} is out of range: use a General MIDI program from 0 to 127.")
    if not tempo > 0:
        raise SeedError(f"Tempo must be above 0 BPM, got {tempo}.")
    midi = pretty_midi.PrettyMIDI(initial_tempo=float(tempo))
    instrument = pretty_midi.Instrument(program=int(program), name="melody")
    seconds = 60.0 / float(tempo) * note_beats
    for i, pitch in enumerate(pitches):
        shifted = min(127, max(0, int(pitch) - int(key_shift)))
        instrument.notes.append(pretty_midi.Note(velocity, shifted, i * seconds, (i + 1) * seconds))
    midi.instruments.append(instrument)
    return midi
