"""Reading MIDI files leniently and writing melodies back to MIDI."""
import io
import os
import struct
import warnings
from pathlib import Path

import mido
import pretty_midi

from ..errors import MidiError, SeedError
from .notes import STEPS_PER_WHOLE

HINT = "Use a Standard MIDI File (.mid/.midi), e.g. one exported from a notation program or a DAW."
MAX_TICKS = 4_000_000  # about an hour at 480 ticks per beat; later events are dropped
MAX_NOTES = 200_000  # notes read per file; later ones are dropped
MAX_TRACKS = 1024  # tracks read per file; later ones are dropped


def load_midi(path):
    """Read a MIDI file into a ``pretty_midi.PrettyMIDI``, forgiving what can be forgiven.

    Data bytes above 127 (seen in real files) are clipped to 127; SMPTE (frames per second)
    timing is converted; format-2 tracks are played one after another; events after
    ``MAX_TICKS`` and notes after the first ``MAX_NOTES`` are dropped (the count is in
    ``midi.notes_dropped``).

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
    data, tracks_dropped = _bounded_track_count(data)
    try:
        midi = mido.MidiFile(file=io.BytesIO(data), clip=True)
    except Exception as exc:  # mido raises OSError, EOFError, ValueError, KeyError... on damaged files
        raise MidiError(f"'{name}' could not be read as MIDI: {damage(exc)}. {HINT}") from None
    if not midi.tracks:
        raise MidiError(f"'{name}' has a MIDI header but no tracks, so there are no notes. {HINT}")
    dropped = _make_safe(midi, name)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            result = pretty_midi.PrettyMIDI(mido_object=midi)
    except Exception as exc:  # pretty_midi on inputs mido accepted but it cannot interpret
        raise MidiError(f"'{name}' could not be read as MIDI: {damage(exc)}. {HINT}") from None
    result.notes_dropped = dropped
    result.tracks_dropped = tracks_dropped
    return result


# What the MIDI libraries say of a damaged file, said about the file instead (their own words, such as
# "float division by zero", mean nothing to the person who uploaded it).
DAMAGE = (
    ("end of file", "it ends in the middle of a track: the file is truncated or a track length is wrong"),
    ("mtrk", "a track does not start where the one before it ends: a track length is wrong"),
    ("running status", "a track is damaged: it has data where an event should start"),
    ("status byte", "a track holds bytes that are not MIDI events"),
    ("wrong number of bytes", "a track holds a message of the wrong length"),
    ("exceeds maximum length", "a track holds a message longer than a MIDI file allows"),
    ("key with", "a key signature names a key with more sharps or flats than there are"),
    ("division by zero", "a tempo, time signature or timing value in it is zero"),
    ("out of range", "an event refers to something the file does not have"),
)
DAMAGED = "it is damaged in a way this reader cannot repair"


def damage(exc):
    """A plain sentence about the file for the exception a MIDI library raised reading it."""
    text = f"{type(exc).__name__} {exc}".lower()
    if isinstance(exc, EOFError):
        return DAMAGE[0][1]
    return next((said for found, said in DAMAGE if found in text), DAMAGED)


def _bounded_track_count(data):
    """The file with its header's track count set to the track chunks really there, at most
    ``MAX_TRACKS``; and how many tracks that leaves out. mido reads the count as a signed 16-bit
    number, so a header claiming 32,768 or more tracks would otherwise read as none at all, and one
    claiming thousands would be read that many times over."""
    if len(data) < 14:
        return data, 0
    header_length = struct.unpack(">I", data[4:8])[0]
    declared = struct.unpack(">H", data[10:12])[0]
    present, position = 0, 8 + header_length
    while position + 8 <= len(data) and present < declared:
        present += 1  # a chunk whose length runs past the end still counts: mido reports it as truncated
        position += 8 + struct.unpack(">I", data[position + 4 : position + 8])[0]
    count = min(present, MAX_TRACKS)
    if count == declared:
        return data, 0
    return data[:10] + struct.pack(">H", count) + data[12:], present - count


def _make_safe(midi, name):
    """Adjust a parsed file in place so that pretty_midi reads it in bounded time and memory;
    returns the number of notes dropped."""
    if midi.ticks_per_beat == 0:
        raise MidiError(f"'{name}' says its beats have 0 ticks (a broken header), so no note has a time. {HINT}")
    if midi.ticks_per_beat < 0:  # SMPTE: -frames per second in the high byte, ticks per frame in the low
        raw = midi.ticks_per_beat & 0xFFFF
        frames, ticks = 256 - (raw >> 8), raw & 0xFF
        if not ticks:
            raise MidiError(f"'{name}' uses SMPTE timing with 0 ticks per frame, so no note has a time. {HINT}")
        midi.ticks_per_beat = max(1, frames * ticks // 2)  # one beat = half a second at the default 120 BPM
        for track in midi.tracks:
            _rebuild(track, [(t, m) for t, m in _absolute(track) if m.type != "set_tempo"])
    if midi.type == 2:  # independent patterns: one after another
        offset = 0
        for track in midi.tracks:
            events = _absolute(track)
            _rebuild(track, [(t + offset, m) for t, m in events])
            offset += events[-1][0] if events else 0
        midi.type = 1
    dropped = notes = 0
    for track in midi.tracks:
        tick = count = 0
        for message in track:  # a cheap first pass: most files fit and are left as they are
            tick += message.time
            count += message.type == "note_on" and message.velocity > 0
            if tick > MAX_TICKS or notes + count > MAX_NOTES:
                break
        else:
            notes += count
            continue
        kept, cut = _cut(track, MAX_NOTES - notes)
        notes, dropped = notes + kept, dropped + cut
    return dropped


def _cut(track, note_budget):
    """Drop a track's notes past ``MAX_TICKS`` or past ``note_budget``; a note held past the
    limit ends there. Returns (notes kept, notes dropped)."""
    kept, events, dropped = 0, [], 0
    for tick, message in _absolute(track):
        if message.type == "note_on" and message.velocity > 0:
            if tick > MAX_TICKS or kept >= note_budget:
                dropped += 1
                continue
            kept += 1
        elif tick > MAX_TICKS:
            if message.type not in ("note_off", "note_on"):
                continue
            tick = MAX_TICKS
        events.append((tick, message))
    _rebuild(track, events)
    return kept, dropped


def _absolute(track):
    tick, events = 0, []
    for message in track:
        tick += message.time
        events.append((tick, message))
    return events


def _rebuild(track, events):
    """Replace a track's messages by ``(absolute tick, message)`` events (in time order)."""
    now = 0
    track[:] = []
    for tick, message in sorted(events, key=lambda e: e[0]):
        message.time = tick - now  # the messages were parsed for us alone: adjusting them in place is safe
        track.append(message)
        now = tick


STEPS_PER_QUARTER = STEPS_PER_WHOLE // 4  # the 16th-note grid of melody.music.encoding


def step_seconds(tempo):
    """Seconds of one 16th-note step at ``tempo`` quarter notes per minute."""
    return 60.0 / float(tempo) / STEPS_PER_QUARTER


def _checked(tempo, program):
    if not 0 <= int(program) <= 127:
        raise SeedError(f"Instrument program {program} is out of range: use a General MIDI program from 0 to 127.")
    if not tempo > 0:
        raise SeedError(f"Tempo must be above 0 BPM, got {tempo}.")


def melody_to_midi(notes, tempo=120.0, program=0, key_shift=0, velocity=96, key=None, start_step=None,
                   time_signature=None):
    """A one-track MIDI file of notes with their own timing.

    Parameters
    ----------
    notes : list of (onset_step, duration_steps, pitch)
        On the 16th-note grid (``Melody.notes``), MIDI pitches.
    tempo : float
        Tempo in beats (quarter notes) per minute.
    program : int
        General MIDI program, 0..127 (0 = Acoustic Grand Piano).
    key_shift : int
        The shift that brought the melody to C (``Melody.key_shift``); the notes are moved back by
        ``-key_shift`` semitones so the output sounds in the source's key. 0 keeps them as they are.
    velocity : int
        Loudness of every note, 1..127.
    key : str, optional
        The key the notes sound in (``"D major"``, ``"F# minor"``), written as a key signature.
    start_step : int, optional
        The step that becomes time 0 (default the first note's onset): where a bar starts, when a
        time signature is given.
    time_signature : tuple of (beats, beat), optional
        Written at time 0 (``Melody.time_signature()``: ``(3, 4)``, ``(6, 8)``); readers take 4/4 without one.

    Returns
    -------
    pretty_midi.PrettyMIDI
    """
    _checked(tempo, program)
    midi = pretty_midi.PrettyMIDI(initial_tempo=float(tempo))
    if time_signature:
        midi.time_signature_changes.append(pretty_midi.TimeSignature(int(time_signature[0]), int(time_signature[1]), 0.0))
    if key:
        midi.key_signature_changes.append(pretty_midi.KeySignature(pretty_midi.key_name_to_key_number(key), 0.0))
    instrument = pretty_midi.Instrument(program=int(program), name="melody")
    step = step_seconds(tempo)
    origin = notes[0][0] if start_step is None and notes else (start_step or 0)
    for onset, steps, pitch in notes:
        shifted = min(127, max(0, int(pitch) - int(key_shift)))
        instrument.notes.append(pretty_midi.Note(velocity, shifted, (onset - origin) * step,
                                                 (onset - origin + steps) * step))
    midi.instruments.append(instrument)
    return midi


def notes_to_midi(pitches, tempo=120.0, program=0, key_shift=0, note_beats=0.5, velocity=96, key=None):
    """A one-track MIDI file with every pitch lasting the same time, one after another (the classic
    encoding's way); see :func:`melody_to_midi` for notes with their own lengths.

    Parameters
    ----------
    pitches : list of int
        MIDI note numbers, in order.
    note_beats : float
        Length of every note in beats (0.5 = eighth notes).
    tempo, program, key_shift, velocity, key
        As for :func:`melody_to_midi`.

    Returns
    -------
    pretty_midi.PrettyMIDI
    """
    _checked(tempo, program)
    steps = note_beats * STEPS_PER_QUARTER
    return melody_to_midi([(i * steps, steps, p) for i, p in enumerate(pitches)], tempo, program, key_shift, velocity,
                          key, start_step=0)


def write_midi(midi, path, markers=()):
    """Write a ``PrettyMIDI`` to ``path`` with marker meta events (e.g. where a seed ends), which
    pretty_midi cannot write itself; ``markers`` is a list of ``(seconds, text)``."""
    buffer = io.BytesIO()
    midi.write(buffer)
    if markers:
        buffer.seek(0)
        file = mido.MidiFile(file=buffer)
        events = [(tick, message) for tick, message in _absolute(file.tracks[0])]
        events += [(midi.time_to_tick(seconds), mido.MetaMessage("marker", text=text)) for seconds, text in markers]
        end = [e for e in events if e[1].type == "end_of_track"]
        rest = sorted((e for e in events if e[1].type != "end_of_track"), key=lambda e: e[0])
        last = max([t for t, _ in rest], default=0)
        _rebuild(file.tracks[0], rest + [(max(last, t), m) for t, m in end])
        buffer = io.BytesIO()
        file.save(file=buffer)
    Path(path).write_bytes(buffer.getvalue())
    return Path(path)
