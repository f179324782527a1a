import pytest
from midi_factory import C_MAJOR_SCALE, midi_bytes, write_melody, write_notes, write_tick_track

from melody import CLASSIC, MidiError, encode_midi
from melody.music.midi_io import load_midi_bytes


def test_d_major_melody_comes_out_in_c(tmp_path):
    d_major = [p + 2 for p in C_MAJOR_SCALE]
    melody = encode_midi(write_melody(tmp_path / "d.mid", d_major))
    assert melody.key == "D major"
    assert melody.key_shift == -2
    assert list(melody.pitches) == C_MAJOR_SCALE


def test_minor_melody_goes_to_a_minor(tmp_path):
    e_minor = [64, 66, 67, 69, 71, 72, 75, 76, 71, 67, 64]  # harmonic E minor
    melody = encode_midi(write_melody(tmp_path / "e.mid", e_minor))
    assert melody.key == "E minor"
    assert list(melody.pitches) == [p + 5 for p in e_minor]  # E minor + 5 = A minor


def test_chord_keeps_highest_note(tmp_path):
    notes = [(60, 0, 1), (64, 0, 1), (67, 0, 1), (62, 1, 1), (65, 1, 1), (71, 1, 1), (72, 2, 1)]
    melody = encode_midi(write_notes(tmp_path / "chords.mid", notes))
    assert list(melody.pitches) == [67, 71, 72]
    assert melody.notes_under_melody == 4


def test_chord_spread_over_tracks_keeps_highest_note(tmp_path):
    bass = [(48, i, 1) for i in range(4)]
    lead = [(72, 0, 1), (74, 1, 1), (76, 2, 1), (77, 3, 1)]
    melody = encode_midi(write_notes(tmp_path / "two.mid", bass, extra_tracks=[(lead, 40, False)]))
    assert list(melody.pitches) == [72, 74, 76, 77]


def test_drum_tracks_are_ignored(tmp_path):
    drums = [(81, i / 2, 0.25) for i in range(8)]  # high drum notes on every eighth
    melody = encode_midi(write_melody(tmp_path / "d.mid", C_MAJOR_SCALE, extra_tracks=[(drums, 0, True)]))
    assert list(melody.pitches) == C_MAJOR_SCALE
    assert melody.drum_tracks_dropped == 1


def test_only_drums_is_a_clear_error(tmp_path):
    path = write_notes(tmp_path / "drums.mid", [(36, i, 1) for i in range(4)], is_drum=True)
    with pytest.raises(MidiError, match="only drum tracks"):
        encode_midi(path)


def test_notes_outside_range_fold_by_octaves(tmp_path):
    pitches = [36, 60, 100, 53, 91]
    melody = encode_midi(write_melody(tmp_path / "wide.mid", pitches + C_MAJOR_SCALE * 3), CLASSIC)
    assert list(melody.pitches[:5]) == [60, 60, 88, 65, 79]
    assert melody.notes_folded == 4
    assert all(54 <= p <= 90 for p in melody.pitches)
    assert list(melody.tokens) == [p - 54 for p in melody.pitches]


def test_onsets_follow_the_files_own_tempo_changes(tmp_path):
    # 120 BPM for 4 beats, then 60 BPM. After the change two notes start 0.1 beat apart: the same
    # 16th on the beat grid (so only the higher is kept), but 0.1 s apart, which a grid in seconds
    # at the first tempo (16th = 0.125 s) would round to different steps.
    tpb = 480
    events = [(i * tpb, 60 + 2 * i, tpb) for i in range(4)] + [(6 * tpb, 65, tpb), (6 * tpb + 48, 67, tpb)]
    events += [(7 * tpb, 69, tpb), (8 * tpb, 71, tpb)] + [(9 * tpb + 30, 72, tpb)]  # 72 jittered by 1/16 beat
    melody = encode_midi(write_tick_track(tmp_path / "tempo.mid", events, [(0, 120), (4 * tpb, 60)]))
    assert list(melody.pitches) == [60, 62, 64, 66, 67, 69, 71, 72]
    assert melody.tempo_bpm == pytest.approx(120)


def test_rests_are_dropped_and_every_note_is_one_step(tmp_path):
    notes = [(60, 0, 4), (62, 8, 0.25), (64, 8.5, 0.25)]
    assert list(encode_midi(write_notes(tmp_path / "r.mid", notes)).pitches) == [60, 62, 64]


@pytest.mark.parametrize(
    "data, words",
    [(b"", "empty"), (b"hello, this is text", "not a MIDI file"), (midi_bytes()[:30], "could not be read")],
)
def test_malformed_file_raises_midi_error(tmp_path, data, words):
    path = tmp_path / "bad.mid"
    path.write_bytes(data)
    with pytest.raises(MidiError, match=words):
        encode_midi(path)


def test_data_bytes_over_127_are_clipped_not_fatal(tmp_path):
    data = bytearray(midi_bytes([60, 62, 64]))
    velocity_at = data.index(bytes([0x90, 60])) + 2  # first note_on: status, pitch, velocity
    data[velocity_at] = 200
    path = tmp_path / "loud.mid"
    path.write_bytes(bytes(data))
    assert list(encode_midi(path).pitches) == [60, 62, 64]
    assert load_midi_bytes(bytes(data)).instruments[0].notes[0].velocity == 127


def test_missing_file_is_a_midi_error(tmp_path):
    with pytest.raises(MidiError, match="Cannot open"):
        encode_midi(tmp_path / "nope.mid")


def test_the_summary_says_what_the_count_of_the_source_counts(tmp_path):
    path = write_notes(tmp_path / "two.mid", [(60 + i, i * 0.5, 0.5) for i in range(8)],
                       extra_tracks=[([(48, i * 1.0, 1.0) for i in range(4)], 0, False), ([(36, 0.0, 1.0)], 0, True)])
    summary = encode_midi(path).summary()  # the melody: the upper line; the 12 notes: both tracks, not the drum
    assert summary.startswith("8 melody notes, 1 bar, taken from the 12 notes of all its non-drum tracks;"), summary


def test_every_function_that_takes_an_encoding_defaults_to_the_rhythm_one(tmp_path):
    """One default everywhere: the shipped default model's encoding (issue 21, 11j)."""
    import inspect

    from melody import RHYTHM, melody_from_pitches, melody_from_text
    from melody.data import corpus
    from melody.music import encoding
    from melody.serve import seed_sources as seeds
    from melody.serve import uploads

    path = write_notes(tmp_path / "song.mid", [(60, 0, 1), (62, 1, 0.5), (64, 2, 2)])
    melody = encode_midi(path)
    assert melody.rhythm and melody == encode_midi(path, RHYTHM) and melody != encode_midi(path, CLASSIC)
    assert [tuple(n) for n in melody.original_notes()] == [(0, 4, 60), (4, 2, 62), (8, 8, 64)]  # lengths kept
    assert melody_from_text("C4/4 r/4 E4/2") == melody_from_text("C4/4 r/4 E4/2", RHYTHM)
    assert melody_from_pitches([60, 62]).rhythm and seeds.seed_from_notes("C4 D4").rhythm
    functions = [encoding.encode_midi, encoding.melody_from_text, encoding.melody_from_pitches,
                 encoding.melody_from_items, encoding.melody_from_pretty_midi, corpus.encode_files,
                 corpus.encode_folk_corpus, seeds.seed_from_notes, seeds.seed_from_pitches, seeds.seed_from_grid,
                 seeds.read_upload, seeds.seed_part, seeds.seed_from_midi, seeds.continue_from,
                 uploads.UploadReader.melody]
    for function in functions:
        assert inspect.signature(function).parameters["config"].default == RHYTHM, function.__qualname__
