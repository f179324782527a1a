"""Typed notes carry a meter ("3/4 A4/4 C5/2 ..."): it sets the bars of the seed, the piano roll, the
drawing grid and the model's bar positions, and every MIDI file written says it."""
from pathlib import Path

import pretty_midi
import pytest

from melody import cli
from melody.errors import SeedError
from melody.music.encoding import CLASSIC, RHYTHM, melody_from_text, position_input
from melody.music.midi_io import melody_to_midi
from melody.music.notes import parse_timed_notes, split_meter
from melody.serve import playground as pg
from melody.serve.plots import piano_roll_figure

ROOT = Path(__file__).resolve().parents[2]
GREENSLEEVES = "3/4 A4/4 C5/2 D5/4 E5/4. F5/8 E5/4 D5/2 B4/4"


def signatures(path):
    return [(t.numerator, t.denominator, t.time) for t in pretty_midi.PrettyMIDI(str(path)).time_signature_changes]


@pytest.mark.parametrize("text, meter, words", [("3/4 A4/4 C5/2", (3, 4), ["A4/4", "C5/2"]),
                                                ("6/8 C4 D4 E4", (6, 8), ["C4", "D4", "E4"]),
                                                ("2/2 C4/2", (2, 2), ["C4/2"]),
                                                ("C4 D4", None, ["C4", "D4"]),
                                                ("60/4 62", None, ["60/4", "62"])])  # MIDI 60, a quarter: a note
def test_a_leading_meter_is_read_and_the_notes_after_it(text, meter, words):
    assert split_meter(text) == (meter, words)


@pytest.mark.parametrize("text, said", [("5/3 C4", "'5/3' is not a meter"), ("16/2 C4", "at most 64 sixteenths"),
                                        ("C4 3/4 D4", "goes before the first note")])
def test_a_meter_that_cannot_be_played_or_comes_late_is_refused_by_name(text, said):
    with pytest.raises(SeedError, match=said):
        parse_timed_notes(text)


@pytest.mark.parametrize("config", [RHYTHM, CLASSIC], ids=["rhythm", "classic"])
def test_a_typed_meter_sets_the_bars_and_the_models_bar_positions(config):
    seed = melody_from_text(GREENSLEEVES, config)
    assert (seed.steps_per_bar, seed.time_signature()) == (12, (3, 4))
    assert seed.describe().endswith(": 3/4 A4/4 C5/2 D5/4 E5/4. F5 E5/4 D5/2 B4/4") if config.rhythm else \
        seed.describe().endswith(": 3/4 A4 C5 D5 E5 F5 E5 D5 B4")
    _, steps = config.token_table()
    ends, now = [], seed.start_step
    for token in seed.tokens:
        now += int(steps[token])
        ends.append(now)
    assert list(seed.position_inputs(config)) == [int(position_input(end % 12, 12)) for end in ends]
    assert melody_from_text("C4 D4", config).time_signature() == (4, 4)


def test_the_piano_roll_draws_a_bar_line_at_every_bar_of_the_meter():
    seed = melody_from_text("7/8 " + " ".join(["C4"] * 14), RHYTHM)  # 14 eighths: two bars of 14 sixteenths
    ax = piano_roll_figure(seed.notes, [], steps_per_bar=seed.steps_per_bar, bar_offset=seed.bar_offset).axes[0]
    assert [t + 0.5 for t in ax.get_xticks()] == [0, 14, 28]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["1", "2", "3"]


def test_the_grid_shows_the_meter_and_a_drawn_seed_keeps_it():
    seed = pg.seed_from_notes(GREENSLEEVES, config=RHYTHM)
    value = pg.grid_value(seed)
    assert value["meter"] == [3, 4]
    drawn = pg.seed_from_grid(value, RHYTHM)
    assert (drawn.steps_per_bar, drawn.time_signature(), drawn.notes) == (12, (3, 4), seed.notes)
    assert pg.seed_from_grid({"unit": 2, "cells": [60], "meter": [6, 8]}, RHYTHM).time_signature() == (6, 8)
    assert pg.seed_from_grid({"unit": 2, "cells": [60], "meter": [5, 3]}, RHYTHM).time_signature() == (4, 4)  # junk
    assert "meter" not in pg.grid_value(pg.seed_from_notes("C4 D4", config=RHYTHM))  # 4/4 says nothing


def test_a_midi_file_says_its_time_signature():
    midi = melody_to_midi([(0, 4, 60), (4, 8, 62)], time_signature=(6, 8))
    assert [(t.numerator, t.denominator, t.time) for t in midi.time_signature_changes] == [(6, 8, 0.0)]


@pytest.fixture(scope="module")
def playground(tmp_path_factory):
    return pg.Playground(output_dir=tmp_path_factory.mktemp("out"), voices=1)


def test_the_http_apis_seed_notes_take_a_meter_into_every_midi_file(playground):
    result = playground.generate_request(seed_notes=GREENSLEEVES, length=6, rng_seed=2)
    assert result.seed.steps_per_bar == 12
    assert signatures(result.variations[0].midi_path) == [(3, 4, 0.0)]
    page = playground.generate(result.seed, pg.Settings(length=6, rng_seed=2))  # the page's downloads too
    for path in (page.variations[0].midi_path, page.variations[0].continuation_midi_path):
        assert signatures(path) == [(3, 4, 0.0)]


def test_the_command_lines_seed_takes_a_meter_into_the_midi_file(tmp_path):
    out = tmp_path / "out.mid"
    status = cli.main(["generate", "--seed", "6/8 C4 D4 E4 F4 G4 A4", "--length", "4", "--rng-seed", "1",
                       "--checkpoint", str(ROOT / "checkpoints" / "rhythm.pt"), "--out", str(out)])
    assert status == 0
    assert signatures(out) == [(6, 8, 0.0)]


def test_an_uploaded_file_keeps_its_own_meter_into_the_midi_file(playground, tmp_path):
    """A 6/8 file and a 3/4 file both have bars of 12 sixteenths; each is exported in its own meter."""
    for meter in ((6, 8), (3, 4)):
        midi = melody_to_midi([(2 * i, 2, 60 + i % 7) for i in range(24)], time_signature=meter)
        path = tmp_path / f"in-{meter[0]}-{meter[1]}.mid"
        midi.write(str(path))
        seed, whole = playground.seed_from_upload(path)
        assert whole.steps_per_bar == 12 and seed.time_signature() == meter
        result = playground.generate(seed, pg.Settings(length=4, rng_seed=1))
        assert signatures(result.variations[0].midi_path) == [(*meter, 0.0)]
