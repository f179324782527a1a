"""Untrusted settings (from the page, the HTTP API or the command line): a value or a clear message
naming the setting, never a bare error."""
import math
import time

import pytest

from melody import SeedError
from melody.music.notes import parse_notes
from melody.serve import playground as pg
from melody.settings import LIMITS, Settings, flag, number


@pytest.mark.parametrize("value, expected", [(5, 5), ("5", 5), (" 12 ", 12), (7.0, 7), ("1e2", 100), (None, 64)])
def test_whole_numbers_are_read_from_numbers_and_plain_digits(value, expected):
    assert number(value, "length") == expected


@pytest.mark.parametrize("value", [float("nan"), float("inf"), "abc", "NaN", True, "٦٤", "6.5", 6.5, [64], "9" * 5000,
                                   -1, 0, 513, "1e300"])
def test_anything_else_is_refused_with_the_setting_named(value):
    started = time.perf_counter()
    with pytest.raises(SeedError, match=r"Length \(notes to generate\) must be a whole number from 1 to 512"):
        number(value, "length")
    assert time.perf_counter() - started < 0.1  # no 5,000-digit conversion


def test_refused_values_are_shown_short():
    with pytest.raises(SeedError) as info:
        number("7" * 100_000, "temperature")
    assert len(str(info.value)) < 200 and "100002 characters" in str(info.value)


@pytest.mark.parametrize("value", [-1, 2**63, 1e300, "1e300", -0.5])
def test_random_seed_must_be_a_small_whole_number(value):
    with pytest.raises(SeedError, match="Random seed"):
        Settings(rng_seed=value).checked()


@pytest.mark.parametrize("value, expected", [("false", False), ("False", False), ("no", False), (0, False),
                                             ("true", True), (1, True), (True, True), (None, True)])
def test_yes_no_settings_read_words_strictly(value, expected):
    assert flag(value, "Return to the seed's key", True) is expected


@pytest.mark.parametrize("value", ["maybe", 2, 0.5, "fals"])
def test_yes_no_settings_refuse_other_values(value):
    with pytest.raises(SeedError, match="must be true or false"):
        flag(value, "Return to the seed's key", True)


def test_settings_are_normalised_and_a_random_seed_drawn():
    s = Settings(length="16", temperature="0.5", top_k=0, top_p=1.0, rng_seed=None, tempo_bpm="90",
                 original_key="false").checked()
    assert (s.length, s.temperature, s.top_k, s.top_p, s.tempo_bpm, s.original_key) == (16, 0.5, None, None, 90.0, False)
    assert isinstance(s.rng_seed, int) and 0 <= s.rng_seed < 2**31


def test_every_limit_has_its_default_in_range():
    for name, limit in LIMITS.items():
        assert limit.low <= limit.high, name
        if limit.default is not None:
            assert limit.low <= limit.default <= limit.high, name
            assert number(limit.default, name) == limit.default


def test_seed_count_zero_and_negative_start_are_named():
    melody = pg.seed_from_notes("C4 D4 E4 F4")  # any Melody-like object with pitches works for seed_part
    from melody.music.encoding import melody_from_pitches

    song = melody_from_pitches([60, 62, 64, 65], source="song.mid")
    with pytest.raises(SeedError, match="Number of notes must be a whole number from 1 to 1,024, got 0"):
        pg.seed_part(song, 0, 0)
    with pytest.raises(SeedError, match="Start at note must be a whole number from 0"):
        pg.seed_part(song, -1, 4)
    with pytest.raises(SeedError, match="past the end"):
        pg.seed_part(song, 4, 4)
    assert list(pg.seed_part(song, 1, None).pitches) == [62, 64, 65] and melody.pitches


def test_arabic_indic_digits_are_not_a_midi_number():
    with pytest.raises(SeedError, match="is not a note"):
        parse_notes("٦٠")  # "60" in Arabic-Indic digits


def test_a_huge_seed_text_is_refused_before_it_is_read():
    started = time.perf_counter()
    with pytest.raises(SeedError, match="too long"):
        pg.seed_from_notes("C4 " * 3_000_000)  # 9 MB
    assert time.perf_counter() - started < 0.1


def test_a_long_bad_note_is_not_echoed_whole():
    with pytest.raises(SeedError) as info:
        parse_notes("C4 " + "Q" * 1_000_000)
    assert len(str(info.value)) < 200


def test_grid_over_the_seed_limit_is_not_called_empty():
    with pytest.raises(SeedError, match="at most 1024 notes"):
        pg.seed_from_grid([60] * 1025)
    with pytest.raises(SeedError, match="grid is empty"):
        pg.seed_from_grid([None, math.nan])


def test_steering_settings_are_checked_and_named():
    checked = Settings(pins=" 3:C5 ", scale="", loop="true", max_copy="0").checked()
    assert (checked.pins, checked.scale, checked.loop, checked.max_copy) == ("3:C5", None, True, None)
    assert Settings(max_copy="12").checked().max_copy == 12
    for bad, words in [(dict(max_copy=5), "Copy cap"), (dict(loop="maybe"), "Loop"),
                       (dict(pins="1:C4 " * 1000), "Pins: at most"), (dict(scale=7), "Scale must be text"),
                       (dict(scale_strength=2), "Scale strength")]:
        with pytest.raises(SeedError, match=words):
            Settings(**bad).checked()


def test_pins_drawn_on_the_grid_count_from_the_column_after_the_seed():
    assert pg.grid_pins([60, None, 64, None, {"pin": 67}, {"pin": 72}]) == "1:G4 2:C5"
    assert pg.grid_pins([60, 62]) == ""
    with pytest.raises(SeedError, match="inside the seed"):
        pg.grid_pins([60, {"pin": 67}, 64])


def test_every_slider_of_the_page_takes_its_range_and_default_from_the_settings():
    """One owner for each range: the page's sliders are made from ``LIMITS`` (tempo was 20-400 in one
    place and 40-240 in another)."""
    import gradio as gr

    from melody.web import page

    with gr.Blocks():
        controls = page.settings_panel()
    checked = 0
    for name, control in controls.items():
        key = {"tempo": "tempo_bpm"}.get(name, name)
        if isinstance(control, gr.Slider) and key in LIMITS:
            limit = LIMITS[key]
            assert control.maximum == (limit.slider_high or limit.high), name
            assert control.minimum in (limit.low, 0), name
            assert control.step == limit.step, name
            checked += 1
    assert checked >= 8


def test_the_copy_cap_has_one_range_for_the_page_the_server_and_the_command_line():
    import gradio as gr

    from melody.cli import build_parser
    from melody.web import page

    cap = LIMITS["max_copy"]
    with gr.Blocks():
        slider = page.settings_panel()["max_copy"]
    assert (slider.minimum, slider.maximum) == (0, cap.high)  # 0: off; else the server's range
    assert f"{cap.low:,} to {cap.high:,}" in slider.label
    assert Settings(max_copy=cap.high).checked().max_copy == cap.high
    assert Settings(max_copy=0).checked().max_copy is None
    with pytest.raises(SeedError, match=f"from {cap.low:,} to {cap.high:,}"):
        Settings(max_copy=cap.low - 1).checked()
    generate = next(a for a in build_parser()._subparsers._group_actions[0].choices["generate"]._actions
                    if a.dest == "max_copy")
    assert f"{cap.low} to {cap.high:,}" in generate.help
