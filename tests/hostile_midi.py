"""Hostile and broken "MIDI" files, built in code: what people will upload."""
import io
import random
import struct

import mido
import numpy as np
import soundfile


def _file(tracks, ticks_per_beat=480, kind=1):
    midi = mido.MidiFile(type=kind, ticks_per_beat=ticks_per_beat)
    for messages in tracks:
        track = mido.MidiTrack()
        track.extend(messages)
        midi.tracks.append(track)
    buffer = io.BytesIO()
    midi.save(file=buffer)
    return buffer.getvalue()


def _notes(pitches, channel=0, ticks=240, tempo=None):
    messages = [mido.MetaMessage("set_tempo", tempo=tempo, time=0)] if tempo is not None else []
    for p in pitches:
        messages.append(mido.Message("note_on", note=p, velocity=90, channel=channel, time=0))
        messages.append(mido.Message("note_off", note=p, velocity=0, channel=channel, time=ticks))
    return messages


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
    good = _file([_notes(MELODY)])
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
        "format-2.mid": (_file([_notes(MELODY[:4]), _notes(MELODY[4:])], kind=2), "melody"),
        "no-notes.mid": (_file([[mido.MetaMessage("set_tempo", tempo=500000)]]), "error"),
        "drums-only.mid": (_file([_notes([36, 38, 42, 46], channel=9)]), "error"),
        "single-note.mid": (_file([_notes([60])]), "melody"),
        "hundreds-of-tracks.mid": (_file([_notes([48 + i % 36]) for i in range(300)]), "melody"),
        "200000-notes.mid": (_file([_notes([40 + i % 40 for i in range(200_000)], ticks=30)]), "melody"),
        "tempo-1-microsecond.mid": (_file([_notes(MELODY, tempo=1)]), "melody"),
        "tempo-16-seconds.mid": (_file([_notes(MELODY, tempo=16_000_000)]), "melody"),
        # 10 hours at 120 BPM = 72,000 beats; at 480 ticks per beat that is 34,560,000 ticks
        "ten-hour-note.mid": (_file([_notes([60], ticks=34_560_000) + _notes(MELODY)]), "melody"),
        "pitches-0-and-127.mid": (_file([_notes([0, 127, 0, 127])]), "melody"),
        "data-bytes-over-127.mid": (good.replace(bytes([0x90, 60, 90]), bytes([0x90, 60, 200]), 1), "melody"),
    }
    return files
