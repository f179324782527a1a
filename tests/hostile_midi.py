"""Hostile and broken "MIDI" files, built in code: what people will upload."""
import io
import random
import struct

import mido
import numpy as np
import soundfile
from midi_factory import midi_bytes, midi_file_bytes, note_messages


def _one_track(pitches, **kwargs):
    return midi_file_bytes([note_messages(pitches, **kwargs)])


def _header(kind, tracks, division):
    return b"MThd" + struct.pack(">IHHH", 6, kind, tracks, division & 0xFFFF)


def _with_header(data, kind=None, division=None):
    fields = list(struct.unpack(">HHH", data[8:14]))
    if kind is not None:
        fields[0] = kind
    if division is not None:
        fields[2] = division & 0xFFFF
    return data[:8] + struct.pack(">HHH", *fields) + data[14:]


MELODY = [60, 62, 64, 65, 67, 69, 71, 72]


def wav_bytes():
    buffer = io.BytesIO()
    soundfile.write(buffer, np.sin(np.arange(8000) / 5.0) * 0.3, 8000, format="WAV")
    return buffer.getvalue()


def hostile_files():
    """name -> (bytes, what must happen): "error" (a MidiError) or "melody" (read leniently)."""
    good = midi_bytes(MELODY)
    track_start = good.index(b"MTrk")
    files = {
        "text.mid": (b"Hello! These are my notes: C D E F G\n" * 20, "error"),
        "audio.mid": (wav_bytes(), "error"),
        "random-bytes.mid": (random.Random(0).randbytes(4096), "error"),
        "empty.mid": (b"", "error"),
        "header-only.mid": (_header(1, 0, 480), "error"),
        "truncated.mid": (good[: len(good) - 25], "error"),
        "track-length-past-end.mid": (good[: track_start + 4] + struct.pack(">I", 10**6) + good[track_start + 8:], "error"),
        "division-zero.mid": (_with_header(good, division=0), "error"),
        "smpte-timing.mid": (_with_header(good, division=(-25 << 8) | 40), "melody"),  # 25 fps, 40 ticks/frame
        "format-2.mid": (midi_file_bytes([note_messages(MELODY[:4]), note_messages(MELODY[4:])], kind=2), "melody"),
        "no-notes.mid": (midi_file_bytes([[mido.MetaMessage("set_tempo", tempo=500000)]]), "error"),
        "drums-only.mid": (_one_track([36, 38, 42, 46], channel=9), "error"),
        "single-note.mid": (_one_track([60]), "melody"),
        "hundreds-of-tracks.mid": (midi_file_bytes([note_messages([48 + i % 36]) for i in range(300)]), "melody"),
        "200000-notes.mid": (_one_track([40 + i % 40 for i in range(200_000)], ticks=30), "melody"),
        "tempo-1-microsecond.mid": (_one_track(MELODY, tempo=1), "melody"),
        "tempo-16-seconds.mid": (_one_track(MELODY, tempo=16_000_000), "melody"),
        # 10 hours at 120 BPM = 72,000 beats; at 480 ticks per beat that is 34,560,000 ticks
        "ten-hour-note.mid": (midi_file_bytes([note_messages([60], ticks=34_560_000) + note_messages(MELODY)]),
                              "melody"),
        "pitches-0-and-127.mid": (_one_track([0, 127, 0, 127]), "melody"),
        "data-bytes-over-127.mid": (good.replace(bytes([0x90, 60, 90]), bytes([0x90, 60, 200]), 1), "melody"),
    }
    return files
