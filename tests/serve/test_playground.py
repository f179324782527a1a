import wave

import numpy as np
import pytest
import soundfile
from midi_factory import C_MAJOR_SCALE, pitches_in, timed_notes_in, write_melody

from melody import SeedError
from melody.music.encoding import CLASSIC, RHYTHM
from melody.serve import playground as pg
from melody.serve.render import SAMPLE_RATE_HZ, TAIL_SECONDS


def test_seed_from_typed_notes_keeps_its_key():
    seed = pg.seed_from_notes("D4 E4 F#4 G4 A4 B4 C#5 D5")
    assert seed.key == "D major" and seed.key_shift == -2
    assert list(seed.pitches) == C_MAJOR_SCALE
    assert seed.original_pitches() == [p + 2 for p in C_MAJOR_SCALE]


def test_typed_lengths_and_rests_are_kept_by_the_rhythm_encoding():
    seed = pg.seed_from_notes("C4/4 D4/8 r/8 E4/2", config=RHYTHM)
    assert seed.original_notes() == [(0, 4, 60), (4, 2, 62), (8, 8, 64)] and seed.end_step == 16
    classic = pg.seed_from_notes("C4/4 D4/8 r/8 E4/2", config=CLASSIC)
    assert classic.original_notes() == [(0, 2, 60), (2, 2, 62), (4, 2, 64)]  # the write-up's: all eighths


def test_seed_from_grid_skips_empty_steps_and_junk():
    seed = pg.seed_from_grid([60, None, 64, "x", True, 200, 67])
    assert list(seed.pitches) == [60, 64, 67]
    with pytest.raises(SeedError, match="grid is empty"):
        pg.seed_from_grid([None, None])


def test_seed_from_midi_takes_the_chosen_part(tmp_path):
    path = write_melody(tmp_path / "d.mid", [p + 2 for p in C_MAJOR_SCALE * 2], tempo=90)
    seed, melody = pg.seed_from_midi(path, start=2, count=3)
    assert list(seed.pitches) == C_MAJOR_SCALE[2:5]
    assert seed.key_shift == -2 and seed.tempo_bpm == pytest.approx(90, abs=0.01)
    assert len(melody) == 16 and "notes 2-4" in seed.source
    with pytest.raises(SeedError, match="past the end"):
        pg.seed_from_midi(path, start=16)


def test_empty_or_bad_typed_seed_says_what_to_do():
    with pytest.raises(SeedError, match="empty"):
        pg.seed_from_notes("   ")
    with pytest.raises(SeedError, match="not a note"):
        pg.seed_from_notes("C4 Q4")


def test_undo_walks_back_through_seeds_and_live_edits_do_not_pile_up():
    first = pg.seed_from_notes("C4 D4")
    session = pg.new_session(first)
    upload = pg.seed_from_pitches([60, 62, 64], source="song.mid")
    session = pg.with_seed(session, upload)
    for text in ("C4", "C4 E4", "C4 E4 G4"):  # typing, live
        session = pg.with_seed(session, pg.seed_from_notes(text), live=True)
    assert list(session["seed"].pitches) == [60, 64, 67]
    session = pg.undo_seed(session)
    assert session["seed"] == upload
    session = pg.undo_seed(session)
    assert session["seed"] == first
    with pytest.raises(SeedError, match="Nothing to undo"):
        pg.undo_seed(session)


def test_continue_appends_the_result_to_the_seed():
    from melody.generation.sampling import continuation_of

    seed = pg.seed_from_notes("D4/4 E4/8 r/8", config=RHYTHM)
    result = continuation_of(RHYTHM, seed, [RHYTHM.token(64, 4), RHYTHM.token(65, 2)])
    longer = pg.continue_from(seed, result, RHYTHM)
    assert longer.notes == ((0, 4, 60), (4, 2, 62), (8, 4, 64), (12, 2, 65)) and longer.key_shift == -2
    assert longer.end_step == 14 and len(longer.tokens) == 5  # the rest stays a token


@pytest.mark.parametrize("settings, words", [(pg.Settings(length=0), "Length"), (pg.Settings(length=513), "Length"),
                                             (pg.Settings(variations=5), "Variations"),
                                             (pg.Settings(tempo_bpm=1), "Tempo"), (pg.Settings(program=128), "Instrument")])
def test_settings_out_of_range_are_refused(settings, words):
    with pytest.raises(SeedError, match=words):
        settings.checked()


@pytest.fixture(scope="module")
def playground(tmp_path_factory):
    return pg.Playground(output_dir=tmp_path_factory.mktemp("out"), voices=1)


def test_generate_writes_audio_roll_midi_for_every_variation(playground):
    seed = pg.seed_from_notes("D4/4 E4/8 F#4/8 r/4 G4/4", config=playground.encoding())
    result = playground.generate(seed, pg.Settings(length=12, rng_seed=3, variations=2, tempo_bpm=120))
    assert len(result.variations) == 2
    step = 60 / 120 / 4  # a 16th at 120 BPM
    for v in result.variations:
        played = timed_notes_in(v.midi_path)
        expected = [(o * step, (o + n) * step, p) for o, n, p in seed.original_notes() + v.notes]
        assert np.allclose(played, expected, atol=0.01) and len(v.notes) == 12
        audio, rate = soundfile.read(v.audio_path)
        assert rate == SAMPLE_RATE_HZ
        assert abs(len(audio) / rate - (expected[-1][1] + TAIL_SECONDS)) < 0.15  # MP3 adds up to ~0.1 s of padding
        assert np.sqrt(np.mean(audio**2)) > 1e-3
        assert v.roll_path.read_bytes()[:4] == b"\x89PNG" and v.histogram_path.read_bytes()[:4] == b"\x89PNG"
    assert "random seed 3" in result.summary and f"key {seed.key}" in result.summary
    again = playground.generate(seed, pg.Settings(length=12, rng_seed=3, variations=2))
    assert [v.notes for v in again.variations] == [v.notes for v in result.variations]


def test_model_key_output_stays_in_c(playground):
    seed = pg.seed_from_notes("D4 E4 F#4 G4")
    result = playground.generate(seed, pg.Settings(length=4, rng_seed=1, original_key=False))
    notes = pitches_in(result.variations[0].midi_path)
    assert notes[:4] == [60, 62, 64, 65]


def test_unknown_checkpoint_or_soundfont_are_refused(playground):
    seed = pg.seed_from_notes("C4 D4")
    with pytest.raises(SeedError, match="Unknown checkpoint"):
        playground.generate(seed, pg.Settings(length=4), checkpoint="../../etc/passwd")
    with pytest.raises(SeedError, match="Unknown soundfont"):
        playground.generate(seed, pg.Settings(length=4), soundfont=99)


def test_old_result_files_are_cleaned(playground):
    playground.generate(pg.seed_from_notes("C4 D4"), pg.Settings(length=4, rng_seed=1))
    assert any(playground.output_dir.iterdir())
    playground.storage.make_room(0, max_age_seconds=-1)
    assert not any(playground.output_dir.iterdir())


def test_a_rewritten_checkpoint_is_reloaded_and_replaces_the_old_model(tmp_path):
    """A training run rewrites its checkpoint whenever validation improves: the page serves the new
    weights and keeps one model per file, however often the file changes."""
    import os
    import shutil

    from melody.model import checkpoint as ckpt

    shipped = ckpt.newest_checkpoint()
    path = tmp_path / "run.pt"
    shutil.copy(shipped, path)
    playground = pg.Playground(checkpoint_dir=tmp_path, output_dir=tmp_path / "out")
    first = playground.model("run.pt")
    assert playground.model("run.pt") is first  # unchanged file: the same model
    original = ckpt.read_file(path, ckpt.FORMAT)
    for round_number in range(1, 4):
        bias = "pitch_head.bias" if "pitch_head.bias" in original["model_state"] else "head.bias"
        state = dict(original["model_state"], **{bias: original["model_state"][bias] + round_number})
        ckpt.atomic_save(dict(original, model_state=state), path)
        os.utime(path, (0, 1_000_000 + round_number))  # a distinct mtime even on a coarse clock
        reloaded = playground.model("run.pt")
        assert reloaded is not first
        moved = reloaded.state_dict()[bias] - first.state_dict()[bias]
        assert float(moved.mean()) == pytest.approx(round_number, abs=1e-4)
    assert len(playground._models) == 1


def test_a_pin_outside_the_scale_is_a_readable_error_before_any_audio(playground):
    with pytest.raises(pg.SeedError, match="not in D major"):
        playground.generate_request(seed_notes="D4/4 E4/8 F#4/8 A4/4 F#4/4 D4/2", pins="3:C4", scale="D major")


def test_the_grid_keeps_lengths_and_rests_with_rhythm_and_drops_them_for_the_classic_encoding():
    drawn = {"unit": 2, "cells": [60, None, {"note": 64, "len": 2}, None, None, 67, {"pin": 72}]}
    seed = pg.seed_from_grid(drawn, RHYTHM)
    assert seed.original_notes() == [(0, 2, 60), (4, 4, 64), (10, 2, 67)]
    assert "C4 r E4/4 r G4" in seed.describe()
    assert pg.grid_pins(drawn) == "0:C5"  # the column after G4's end
    assert pg.seed_from_grid(drawn, CLASSIC).original_notes() == [(0, 2, 60), (2, 2, 64), (4, 2, 67)]  # eighths
    fine = {"unit": 1, "cells": [None, 60, {"note": 62, "len": 3}, None, {"note": 64, "len": 1}, 65]}
    assert pg.seed_from_grid(fine, RHYTHM).original_notes() == [(1, 1, 60), (2, 2, 62), (4, 1, 64), (5, 1, 65)]
    assert pg.seed_from_grid({"unit": 1, "cells": [{"note": 64, "len": 40}]}, RHYTHM).original_notes() == \
        [(0, 16, 64)]  # the longest note the model knows


def test_the_grid_shows_a_seed_with_its_lengths_in_eighths_or_sixteenths():
    for text, unit in [("D4/4 F#4/8 A4/8 r/4 D5/2", 2), ("C4/16 D4/8. r/16 E4/4 G4/16", 1)]:
        seed = pg.seed_from_notes(text, config=RHYTHM)
        value = pg.grid_value(seed)
        assert value["unit"] == unit
        assert pg.seed_from_grid(value, RHYTHM).original_notes() == seed.original_notes()  # the same notes back
    assert pg.grid_value(pg.seed_from_notes("D4/4 F#4/8 A4/8 r/4 D5/2", config=RHYTHM))["cells"] == \
        [{"note": 62, "len": 2}, None, 66, 69, None, None, {"note": 74, "len": 4}]
    assert pg.grid_end({"unit": 2, "cells": [60, {"note": 62, "len": 3}]}) == 4


def test_generation_in_stages_gives_the_audio_before_the_pictures(playground):
    seed = pg.seed_from_notes("C4/4 E4/8 G4/8 C5/2", config=playground.encoding())
    stages = playground.generate_stages(seed, pg.Settings(length=16, rng_seed=3), audio_first=True)
    first = next(stages)
    audio = first.variations[0]
    with wave.open(str(audio.wav_path)) as wav:  # complete, its header written: the MP3 may still be encoding
        seconds = wav.getnframes() / wav.getframerate()
    assert seconds > 16 * 0.25  # at least the continuation's 16 notes (eighths or longer at 120 BPM)
    assert audio.roll_path is None and audio.midi_path is None and first.summary == ""
    *_, done = stages
    v = done.variations[0]
    assert v.roll_path.is_file() and v.midi_path.is_file() and v.audio_path.stat().st_size > 1000
    assert "1 variation of 16 notes" in done.summary
    again = playground.generate(seed, pg.Settings(length=16, rng_seed=3))  # in one go: the same notes
    assert again.variations[0].notes == v.notes


def test_what_reading_typed_notes_changed_names_the_notes_as_typed():
    from melody.serve.seed_sources import typed_changes

    text = "3/4 C2 Db4/4 E4"
    said = typed_changes(text, pg.seed_from_notes(text, config=RHYTHM))
    assert "C2 to C4" in said and "Db4 is shown as C#4" in said
    assert typed_changes("C4 E4", pg.seed_from_notes("C4 E4", config=RHYTHM)) == ""
