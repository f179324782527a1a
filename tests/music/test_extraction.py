import mido
import pytest
from midi_factory import midi_file_bytes, write_notes

from melody.music.encoding import EncodingConfig, melody_from_pretty_midi
from melody.music.extraction import extract_melody
from melody.music.midi_io import load_midi, load_midi_bytes

BARS = 8
# A stepwise tune in eighth notes (pitch, start beat, length beats) with a half-bar rest in every bar.
TUNE = [(72 + step, 4 * bar + 0.5 * i, 0.5) for bar in range(BARS) for i, step in enumerate([0, 2, 4, 5, 7, 5])]
TUNE_RESTS = [(4 * bar + 3, 4 * bar + 4) for bar in range(BARS)]  # beats 3..4 of every bar are silent
CHORDS = [(p, beat, 1) for beat in range(4 * BARS) for p in (55, 60, 64)]  # a chord on every beat
BASS = [(43 if beat % 2 else 48, beat, 1) for beat in range(4 * BARS)]
SECONDS_PER_BEAT = 0.5  # midi_factory writes at 120 BPM


def pitches(notes):
    return [p for _, _, p in notes]


def assert_monophonic(notes):
    assert all(a[1] <= b[0] + 1e-9 and a[0] <= b[0] for a, b in zip(notes, notes[1:]))


def assert_is_tune(notes):
    """The tune, note for note: same pitches, same starts and ends, nothing in its rests."""
    assert pitches(notes) == [p for p, _, _ in TUNE]
    assert [t for s, e, _ in notes for t in (s, e)] == pytest.approx(
        [t for _, b, n in TUNE for t in (b * SECONDS_PER_BEAT, (b + n) * SECONDS_PER_BEAT)])
    rests = [(a * SECONDS_PER_BEAT, b * SECONDS_PER_BEAT) for a, b in TUNE_RESTS]
    assert not [n for n in notes for a, b in rests if a <= n[0] < b]


def test_melody_under_a_sustained_high_pad_wins(tmp_path):
    low_tune = [(p - 12, b, n) for p, b, n in TUNE]
    pad = [(p, 4 * bar, 4) for bar in range(BARS) for p in ((74, 79, 83) if bar % 2 else (76, 79, 84))]
    midi = load_midi(write_notes(tmp_path / "pad.mid", low_tune, extra_tracks=[(pad, 0, False)]))
    melody = extract_melody(midi)
    assert pitches(melody) == [p for p, _, _ in low_tune]
    assert 84 in pitches(extract_melody(midi, "skyline"))  # the old rule takes the pad's top


def test_rests_stay_rests_in_unnamed_piano_tracks(tmp_path):
    extra = [(CHORDS, 0, False), (BASS, 0, False), ([(36, b, 0.25) for b in range(32)], 0, True)]
    midi = load_midi(write_notes(tmp_path / "band.mid", TUNE, extra_tracks=extra))
    assert {(i.program, i.name) for i in midi.instruments if not i.is_drum} == {(0, "")}
    melody = extract_melody(midi)
    assert_is_tune(melody)
    assert_monophonic(melody)
    assert 64 in pitches(extract_melody(midi, "skyline"))  # the old rule fills the rests with the chords


def test_single_piano_track_keeps_the_tune_and_its_rests(tmp_path):
    midi = load_midi(write_notes(tmp_path / "piano.mid", sorted(TUNE + CHORDS + BASS, key=lambda n: n[1])))
    assert len(midi.instruments) == 1
    assert_is_tune(extract_melody(midi))


def test_format_0_file_with_two_channels_in_one_track():
    ticks = 480
    events = []
    for channel, notes in ((0, TUNE), (1, CHORDS)):
        for pitch, beat, length in notes:
            start, end = round(beat * ticks), round((beat + length) * ticks)
            events.append((start, 1, mido.Message("note_on", note=pitch, velocity=90, channel=channel)))
            events.append((end, 0, mido.Message("note_off", note=pitch, velocity=0, channel=channel)))
    track, now = [], 0
    for tick, _, message in sorted(events, key=lambda e: e[:2]):
        track.append(message.copy(time=tick - now))
        now = tick
    midi = load_midi_bytes(midi_file_bytes([track], ticks_per_beat=ticks, kind=0))
    assert len(midi.instruments) == 2  # split by channel
    assert_is_tune(extract_melody(midi))


def test_name_hint_decides_between_two_tunes_but_is_not_needed(tmp_path):
    # Two stepwise lines taking turns, one a fifth above the other: without names the upper one wins.
    upper = [(76 + (i % 3), 2 * i, 0.5) for i in range(16)]
    lower = [(69 + (i % 3), 2 * i + 1, 0.5) for i in range(16)]
    midi = load_midi(write_notes(tmp_path / "two.mid", upper, extra_tracks=[(lower, 0, False)]))
    assert pitches(extract_melody(midi)) == [p for p, _, _ in upper]
    midi.instruments[1].name = "Lead vocal"
    assert pitches(extract_melody(midi)) == [p for p, _, _ in lower]
    midi.instruments[1].name, midi.instruments[0].name = "", "Bass"
    assert pitches(extract_melody(midi)) == [p for p, _, _ in lower]


def test_skyline_reproduces_the_old_rule(tmp_path):
    notes = [(60, 0, 1), (64, 0, 1), (67, 0, 2), (62, 1, 1), (71, 1.02, 1), (72, 2, 0.5), (55, 2.5, 2)]
    lead = [(74, 3, 1), (57, 3, 1)]
    midi = load_midi(write_notes(tmp_path / "old.mid", notes, extra_tracks=[(lead, 40, False)]))
    old = melody_from_pretty_midi(midi, EncodingConfig(transpose_to_c=False))
    skyline = extract_melody(midi, "skyline")
    assert pitches(skyline) == list(old.pitches) == [67, 71, 72, 55, 74]
    assert skyline[2] == pytest.approx((1.0, 1.25, 72))  # its real end, not one grid step
    assert skyline[3] == pytest.approx((1.25, 1.5, 55))  # cut where the next kept note starts
    assert_monophonic(skyline)


def test_no_pitched_notes_gives_an_empty_melody(tmp_path):
    midi = load_midi(write_notes(tmp_path / "drums.mid", [(36, 0, 1), (38, 1, 1)], is_drum=True))
    assert extract_melody(midi) == extract_melody(midi, "skyline") == []
    with pytest.raises(ValueError, match="skyline"):
        extract_melody(midi, "topmost")


def test_parts_taking_turns_are_joined(tmp_path):
    first, second = TUNE[:24], [(p - 5, b, n) for p, b, n in TUNE[24:]]  # bars 1-4, then 5-8 on another part
    midi = load_midi(write_notes(tmp_path / "turns.mid", first, extra_tracks=[(second, 0, False)]))
    assert pitches(extract_melody(midi)) == [p for p, _, _ in first + second]
