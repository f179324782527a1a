"""Whatever people upload: a clear MidiError, or a melody read leniently; never anything else."""
import time

import pytest
from hostile_midi import MELODY, hostile_files
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from midi_factory import midi_bytes

from melody import Melody, MidiError, encode_midi
from melody.music.encoding import melody_from_pretty_midi
from melody.music.midi_io import DAMAGE, DAMAGED, damage, load_midi_bytes
from melody.serve.playground import seed_from_midi
from melody.serve.sandbox import call_limited

FILES = hostile_files()
MESSAGES = {
    "text.mid": "not a MIDI file", "audio.mid": "not a MIDI file", "random-bytes.mid": "not a MIDI file",
    "empty.mid": "is empty", "header-only.mid": "no tracks", "truncated.mid": "truncated",
    "track-length-past-end.mid": "track length is wrong", "division-zero.mid": "0 ticks",
    "no-notes.mid": "no notes", "drums-only.mid": "only drum tracks",
}


@pytest.mark.parametrize("name", [pytest.param(n, marks=pytest.mark.heavy) if n == "200000-notes.mid" else n
                                  for n in sorted(FILES)])
def test_every_hostile_file_gets_a_clear_answer(tmp_path, name):
    data, expected = FILES[name]
    path = tmp_path / name
    path.write_bytes(data)
    started = time.monotonic()
    if expected == "error":
        with pytest.raises(MidiError, match=MESSAGES[name]) as info:
            encode_midi(path)
        assert name in str(info.value)
    else:
        melody = encode_midi(path)
        assert isinstance(melody, Melody) and len(melody) >= 1
        assert all(54 <= p <= 90 for p in melody.pitches)
    assert time.monotonic() - started < 60


@pytest.mark.heavy
def test_lenient_reads_keep_the_music(tmp_path):
    def read(name):
        (tmp_path / name).write_bytes(FILES[name][0])
        return encode_midi(tmp_path / name)

    assert list(read("smpte-timing.mid").pitches) == MELODY
    assert list(read("format-2.mid").pitches) == MELODY  # the two patterns one after the other
    assert list(read("data-bytes-over-127.mid").pitches) == MELODY
    assert list(read("tempo-1-microsecond.mid").pitches) == MELODY
    assert list(read("tempo-16-seconds.mid").pitches) == MELODY
    assert read("pitches-0-and-127.mid").notes_folded == 4
    held = read("ten-hour-note.mid")  # the note ends at the reading limit; what follows is left out
    assert list(held.pitches) == [60] and held.notes_past_limits == len(MELODY)
    big = read("200000-notes.mid")
    assert big.notes_past_limits > 0 and big.notes_in_source + big.notes_past_limits == 200_000


@pytest.mark.system  # starts processes
def test_upload_reading_is_bounded_in_time_and_memory(tmp_path):
    path = tmp_path / "big.mid"
    path.write_bytes(FILES["200000-notes.mid"][0])
    with pytest.raises(MidiError, match="Gave up reading the file after 0.5 s"):
        call_limited(encode_midi, path, seconds=0.5)
    with pytest.raises(MidiError, match="more than 64 MB"):
        call_limited(bytearray, 256 << 20, memory_bytes=64 << 20)
    with pytest.raises(MidiError, match="not a MIDI file"):  # the child's own errors come back as they are
        call_limited(encode_midi, _write(tmp_path / "t.mid", b"text"))
    seed, melody = seed_from_midi(_write(tmp_path / "ok.mid", midi_bytes()))
    assert list(seed.pitches) == [60, 62, 64, 65, 67]


def said_plainly(message):
    """A reading error says what is wrong with the file in this package's own words, never the MIDI
    libraries' ("float division by zero", "running status without last_status")."""
    if "could not be read as MIDI" not in message:
        return True  # the package's other messages (empty, not MIDI, no tracks...) are its own
    return any(f"MIDI: {said}. " in message for said in [*(s for _, s in DAMAGE), DAMAGED])


@pytest.mark.parametrize("library_says", [
    ZeroDivisionError("float division by zero"), IndexError("list index out of range"),
    KeyError("Could not decode key with 127 sharps"), OSError("running status without last_status"),
    ValueError("something no one has seen before"), EOFError(),
])
def test_what_the_midi_libraries_say_becomes_a_sentence_about_the_file(library_says):
    said = damage(library_says)
    assert said in [s for _, s in DAMAGE] + [DAMAGED]
    assert not str(library_says) or str(library_says).lower() not in said.lower()


def test_a_key_signature_with_127_sharps_is_said_plainly(tmp_path):
    data = bytearray(midi_bytes())
    data[22:22] = b"\x00\xff\x59\x02\x7f\x00"  # a key signature of 127 sharps, first in the track
    data[18:22] = (int.from_bytes(data[18:22], "big") + 6).to_bytes(4, "big")
    with pytest.raises(MidiError) as info:
        load_midi_bytes(bytes(data), "sharps.mid")
    assert said_plainly(str(info.value)) and "sharps" in str(info.value) and "127" not in str(info.value)


def _write(path, data):
    path.write_bytes(data)
    return path


@pytest.mark.heavy
@settings(max_examples=2000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_fuzzed_midi_bytes_give_a_melody_or_a_midi_error(data):
    original = bytearray(midi_bytes([60, 62, 64, 65, 67, 69, 71, 72]))
    for _ in range(data.draw(st.integers(1, 8))):
        action = data.draw(st.sampled_from(["flip", "insert", "delete", "truncate"]))
        at = data.draw(st.integers(0, max(len(original) - 1, 0)))
        if action == "flip" and original:
            original[at] = data.draw(st.integers(0, 255))
        elif action == "insert":
            original[at:at] = data.draw(st.binary(min_size=1, max_size=8))
        elif action == "delete" and original:
            del original[at : at + data.draw(st.integers(1, 8))]
        elif action == "truncate":
            del original[at:]
    try:
        midi = load_midi_bytes(bytes(original), "fuzzed.mid")
    except MidiError as exc:
        assert said_plainly(str(exc)), str(exc)
        return
    melody = melody_from_pretty_midi(midi)
    assert all(54 <= p <= 90 for p in melody.pitches)


def test_a_file_with_more_than_32767_tracks_is_read_not_called_trackless(tmp_path):
    """mido reads the header's track count as a signed 16-bit number: 40,000 tracks would read as none."""
    import struct

    melody_track = midi_bytes(MELODY)  # one track with a tune, then 39,999 empty ones
    header, first = melody_track[:14], melody_track[14:]
    empty = b"MTrk" + struct.pack(">I", 4) + b"\x00\xff\x2f\x00"
    data = header[:10] + struct.pack(">H", 40_000) + header[12:] + first + empty * 39_999
    path = tmp_path / "forty-thousand-tracks.mid"
    path.write_bytes(data)
    song = encode_midi(path)
    assert list(song.original_pitches())[: len(MELODY)] == list(MELODY)
