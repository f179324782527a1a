"""Small MIDI files built in code for the tests (no binaries are committed)."""
import io
from pathlib import Path

import mido
import pretty_midi

POKEMON_DIR = Path(__file__).resolve().parent.parent.parent / "shared" / "data" / "pokemon-midi"
# Flags of train.py for a model small enough to train in seconds.
SMALL_TRAINING_FLAGS = ["--embedding-size", "8", "--hidden-size", "24", "--num-layers", "1", "--batch-size", "8",
                        "--crop-length", "16", "--quiet", "--workers", "1"]


def pitches_in(path):
    """The MIDI pitches of a file's first instrument, in order (what the playground and CLI write)."""
    return [n.pitch for n in pretty_midi.PrettyMIDI(str(path)).instruments[0].notes]


def timed_notes_in(path):
    """``(start_seconds, end_seconds, pitch)`` of a MIDI file's first instrument, in order."""
    return [(n.start, n.end, n.pitch) for n in pretty_midi.PrettyMIDI(str(path)).instruments[0].notes]


def write_notes(path, notes, program=0, is_drum=False, tempo=120.0, extra_tracks=()):
    """Write ``notes`` = [(pitch, start_beat, length_beats), ...] as one track at a fixed tempo.

    ``extra_tracks`` is a list of ``(notes, program, is_drum)`` written beside it.
    """
    midi = pretty_midi.PrettyMIDI(initial_tempo=tempo)
    seconds = 60.0 / tempo
    for track, prog, drum in [(notes, program, is_drum), *extra_tracks]:
        instrument = pretty_midi.Instrument(program=prog, is_drum=drum)
        for pitch, start, length in track:
            instrument.notes.append(pretty_midi.Note(90, pitch, start * seconds, (start + length) * seconds))
        midi.instruments.append(instrument)
    midi.write(str(path))
    return Path(path)


def write_melody(path, pitches, beats_per_note=0.5, **kwargs):
    """A plain melody: one note after another, each ``beats_per_note`` long."""
    notes = [(p, i * beats_per_note, beats_per_note) for i, p in enumerate(pitches)]
    return write_notes(path, notes, **kwargs)


def write_tick_track(path, events, tempo_changes, ticks_per_beat=480):
    """A raw mido file: ``events`` = [(tick, pitch, length_ticks)], ``tempo_changes`` = [(tick, bpm)]."""
    midi = mido.MidiFile(ticks_per_beat=ticks_per_beat)
    messages = [(t, mido.MetaMessage("set_tempo", tempo=mido.bpm2tempo(bpm))) for t, bpm in tempo_changes]
    for tick, pitch, length in events:
        messages.append((tick, mido.Message("note_on", note=pitch, velocity=90)))
        messages.append((tick + length, mido.Message("note_off", note=pitch, velocity=0)))
    messages.sort(key=lambda m: (m[0], m[1].type == "note_on"))
    track, now = mido.MidiTrack(), 0
    for tick, message in messages:
        track.append(message.copy(time=tick - now))
        now = tick
    midi.tracks.append(track)
    midi.save(str(path))
    return Path(path)


def note_messages(pitches, channel=0, ticks=240, tempo=None):
    """mido messages of one note after another, each ``ticks`` long (after a tempo, if given, in
    microseconds per beat)."""
    messages = [mido.MetaMessage("set_tempo", tempo=tempo, time=0)] if tempo is not None else []
    for p in pitches:
        messages.append(mido.Message("note_on", note=p, velocity=90, channel=channel, time=0))
        messages.append(mido.Message("note_off", note=p, velocity=0, channel=channel, time=ticks))
    return messages


def midi_file_bytes(tracks, ticks_per_beat=480, kind=1):
    """Bytes of a MIDI file of format ``kind`` with one track per list of messages."""
    midi = mido.MidiFile(type=kind, ticks_per_beat=ticks_per_beat)
    for messages in tracks:
        track = mido.MidiTrack()
        track.extend(messages)
        midi.tracks.append(track)
    buffer = io.BytesIO()
    midi.save(file=buffer)
    return buffer.getvalue()


def midi_bytes(pitches=(60, 62, 64, 65, 67)):
    """Bytes of a valid small MIDI file, to damage in tests."""
    return midi_file_bytes([note_messages(pitches)])


C_MAJOR_SCALE = [60, 62, 64, 65, 67, 69, 71, 72]
TUNES = {
    "ode": [64, 64, 65, 67, 67, 65, 64, 62, 60, 60, 62, 64, 64, 62, 62],
    "twinkle": [60, 60, 67, 67, 69, 69, 67, 65, 65, 64, 64, 62, 62, 60],
    "scale": C_MAJOR_SCALE + C_MAJOR_SCALE[::-1],
    "arpeggio": [60, 64, 67, 72, 67, 64] * 3,
    "frere": [60, 62, 64, 60, 60, 62, 64, 60, 64, 65, 67, 64, 65, 67],
    "minor": [57, 59, 60, 62, 64, 65, 68, 69, 68, 64, 62, 60, 59, 57],
}


def write_small_corpus(folder, repeats=3):
    """A folder of small training files: a few public-domain tunes in several keys."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, tune in TUNES.items():
        for shift in range(repeats):
            paths.append(write_melody(folder / f"{name}-{shift}.mid", [p + 2 * shift for p in tune * 4]))
    return paths


def write_long_songs(folder, count, notes, seed=0):
    """``count`` files of ``notes`` random notes each (steps in C major, eighths, quarters and some
    rests): songs long enough for what the end of a training run fits on them (the length
    calibration continues songs of 64 notes or more)."""
    import numpy as np

    rng = np.random.default_rng(seed)
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    scale = [p + 12 * o for o in (0, 1) for p in C_MAJOR_SCALE[:7]]
    paths = []
    for number in range(count):
        steps = np.clip(np.cumsum(rng.integers(-2, 3, notes)) + 7, 0, len(scale) - 1)
        lengths = rng.choice([0.5, 0.5, 1.0, 1.5], notes)
        starts = np.concatenate([[0.0], np.cumsum(lengths + 0.5 * (rng.random(notes) < 0.1))[:-1]])
        paths.append(write_notes(folder / f"song-{number}.mid",
                                 [(scale[s], float(t), float(n)) for s, t, n in zip(steps, starts, lengths)]))
    return paths


def slow_file(path, offset=0):
    """A real upload that takes seconds to read: 200,000 short notes (1.6 MB)."""
    path.write_bytes(midi_file_bytes([note_messages([40 + (i + offset) % 40 for i in range(200_000)], ticks=30)]))
    return path
