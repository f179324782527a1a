"""Steering a continuation: pins, scales, loops and the copy cap hold in every sample (property-based,
over random seeds, pins and scales, with the shipped checkpoints), and impossible requests say why."""
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import melody
from melody.generation.continuation import seed_melody
from melody.generation.guard import silence_guard
from melody.generation.originality import longest_shared_run
from melody.generation.steering import parse_pins, scale_pitch_classes
from melody.model.checkpoint import CHECKPOINT_DIR, SHIPPED_DIR
from melody.music.encoding import CLASSIC, RHYTHM
from melody.music.keys import key_in_c
from melody.music.notes import note_name

SCALES = [None, "C major", "A minor", "A minor pentatonic", "D dorian", "E blues", "seed", "key"]


def shipped(name):
    path = CHECKPOINT_DIR / name
    return melody.load_model(path if path.exists() else SHIPPED_DIR / name)


@pytest.fixture(scope="module")
def rhythm():
    return shipped("rhythm.pt")


@pytest.fixture(scope="module")
def classic():
    return shipped("classic.pt")


@st.composite
def requests(draw, rhythm=True):
    """A seed (as text), a length and constraints that can be met."""
    count = draw(st.integers(2, 10))
    pitches = draw(st.lists(st.integers(57, 86), min_size=count, max_size=count))
    lengths = draw(st.lists(st.sampled_from([1, 2, 2, 4, 6]), min_size=count, max_size=count))
    text = " ".join(f"{note_name(p)}*{s}" if rhythm else note_name(p) for p, s in zip(pitches, lengths))
    seed = melody.melody_from_text(text, RHYTHM if rhythm else CLASSIC)  # moved to C major / A minor
    length = draw(st.integers(6, 24))
    scale = draw(st.sampled_from(SCALES))
    key_scale = key_in_c(seed.key) if scale == "key" else scale
    pins = {}
    for index in draw(st.lists(st.integers(0, length - 1), max_size=3, unique=True)):
        choices = [p for p in range(58, 86)]
        if key_scale is not None:
            classes = scale_pitch_classes(key_scale, seed.pitches)
            choices = [p for p in choices if p % 12 in classes]
        if choices:
            pins[index] = draw(st.sampled_from(choices))
    loop = draw(st.booleans())
    max_copy = draw(st.sampled_from([None, 8, 10]))
    return text, length, dict(pins=pins or None, scale=scale, loop=loop, max_copy=max_copy)


def check(model, seed, length, asked, runs):
    """Every constraint holds in every continuation."""
    key_seed = seed_melody(model, seed)
    scale = asked["scale"]
    if scale == "key":
        scale = key_in_c(key_seed.key)
    classes = scale_pitch_classes(scale, key_seed.pitches) if scale else None
    for run in runs:
        pitches = run.pitches
        assert len(pitches) == length
        for index, pitch in (asked["pins"] or {}).items():
            assert pitches[index] == pitch, (index, pitch, pitches)
        if classes is not None:
            assert {p % 12 for p in pitches} <= classes, (scale, pitches)
        if asked["loop"] and model.encoding.rhythm:
            assert (run.end_step - key_seed.start_step) % key_seed.steps_per_bar == 0
        if asked["max_copy"]:
            assert longest_shared_run(model.info["originality"], pitches)[0] <= asked["max_copy"]


@settings(max_examples=25, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(request=requests())
def test_constraints_hold_in_every_sample_with_rhythm(rhythm, request):
    text, length, asked = request
    seed = melody.melody_from_text(text, rhythm.encoding)
    runs = melody.generate(rhythm, seed, length, rng_seed=len(text), num_variations=2, particles=32, **asked)
    check(rhythm, seed, length, asked, runs)


@settings(max_examples=10, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(request=requests(rhythm=False))
def test_constraints_hold_in_every_sample_with_the_classic_model(classic, request):
    text, length, asked = request
    seed = melody.melody_from_text(text, classic.encoding)
    runs = melody.generate(classic, seed, length, rng_seed=3, num_variations=2, particles=32, **asked)
    check(classic, seed, length, asked, runs)


def test_pins_with_lengths_and_onsets_are_kept(rhythm):
    seed = melody.melody_from_text("C4/4 E4/8 G4/8 C5/4 r/4", rhythm.encoding)
    pins = {3: (67, 4), 7: (72, 8, 40)}  # note 3 is a quarter G4; note 7 an eighth C5, 40 sixteenths after the seed
    for run in melody.generate(rhythm, seed, 12, rng_seed=4, num_variations=3, particles=64, pins=pins):
        assert run.notes[3][1:] == (4, 67)
        assert run.notes[7] == (seed.end_step + 40, 8, 72)


def test_greedy_and_beta_rules_meet_pins_too(rhythm):
    seed = melody.melody_from_text("E4 E4 F4 G4 G4 F4 E4 D4", rhythm.encoding)
    for rule in (dict(temperature=0), dict(beta=15), dict(top_k=1)):
        run = melody.generate(rhythm, seed, 16, rng_seed=1, pins={15: 60, 7: 67}, particles=32, **rule)[0]
        assert run.pitches[7] == 67 and run.pitches[15] == 60


def test_a_pin_is_approached_the_way_melodies_move_not_by_a_jump(rhythm):
    """Against overwriting the note at the pin (naive forcing), the sampler reaches a far pin by smaller steps."""
    seed = melody.melody_from_text("C4/8 D4/8 E4/8 G4/8 E4/8 D4/8 C4/4", rhythm.encoding)
    target, index = 81, 11  # A5: well above where the seed lives
    steered = melody.generate(rhythm, seed, 16, rng_seed=2, num_variations=24, pins={index: target}, particles=128)
    free = melody.generate(rhythm, seed, 16, rng_seed=2, num_variations=24)
    into = np.mean([abs(r.pitches[index] - r.pitches[index - 1]) for r in steered])
    forced = np.mean([abs(target - r.pitches[index - 1]) for r in free])
    assert into < 0.6 * forced, (into, forced)


def test_a_scale_preference_leans_towards_the_scale_without_forbidding_others(rhythm):
    seed = melody.melody_from_text("C4 D4 E4 F4 G4 A4 B4 C5", rhythm.encoding)
    blues = scale_pitch_classes("C blues")

    def share(**kwargs):
        runs = melody.generate(rhythm, seed, 32, rng_seed=5, num_variations=8, particles=64, **kwargs)
        return np.mean([p % 12 in blues for r in runs for p in r.pitches])

    assert share(scale="C blues", scale_strength=0.8) > share() + 0.1
    assert share(scale="C blues", scale_strength=0.8) < 1.0 or share(scale="C blues") == 1.0


@pytest.mark.parametrize("pins, scale, message", [
    ({3: 100}, None, "outside the model's range"),
    ({40: 60}, None, "past the continuation"),
    ({2: 61}, "C major", "not in C major"),
    (None, "H major", "not a scale this knows"),
    ("3-C4", None, "is not a pin"),
    ("3:Q4", None, "not a note"),
    ("5:C4@2", None, "too early"),
    ("15:C4@999999", None, "starts by sixteenth 1,024 at the latest"),  # before: searched for until the budget ran out
])
def test_constraints_that_cannot_be_met_say_why(rhythm, pins, scale, message):
    seed = melody.melody_from_text("C4 D4 E4", rhythm.encoding)
    with pytest.raises(melody.SeedError, match=message):
        melody.generate(rhythm, seed, 16, pins=pins, scale=scale)


def test_copy_caps_and_loops_that_cannot_be_met_say_why(rhythm, classic):
    seed = melody.melody_from_text("C4 D4 E4", rhythm.encoding)
    with pytest.raises(melody.SeedError, match="at least 8|from 8"):
        melody.generate(rhythm, seed, 16, max_copy=4)
    with pytest.raises(melody.SeedError, match="give a seed"):
        melody.generate(rhythm, [], 16, loop=True)
    with pytest.raises(melody.SeedError, match="need a model with rhythm"):
        melody.generate(classic, melody.melody_from_text("C4 D4", classic.encoding), 8, pins={2: (60, None, 8)})


def test_pins_are_read_from_text():
    pins = parse_pins("15:C5, 31:G4/4 40:E4/8@96")
    assert (pins[15].pitch, pins[15].steps, pins[15].onset) == (72, None, None)
    assert (pins[31].pitch, pins[31].steps) == (67, 4)
    assert (pins[40].pitch, pins[40].steps, pins[40].onset) == (64, 2, 96)
    with pytest.raises(melody.SeedError, match="not a rest"):
        parse_pins("3:r/4")


def test_a_loop_ends_on_a_bar_line_and_its_seam_is_likely(rhythm):
    seed = melody.melody_from_text("C4/4 E4/8 G4/8 C5/4 G4/4 E4/4 C4/4 D4/2", rhythm.encoding)
    looped = melody.generate(rhythm, seed, 16, rng_seed=6, num_variations=4, loop=True, particles=128)
    free = melody.generate(rhythm, seed, 16, rng_seed=6, num_variations=4)
    assert all((r.end_step - seed.start_step) % seed.steps_per_bar == 0 for r in looped)
    assert not all((r.end_step - seed.start_step) % seed.steps_per_bar == 0 for r in free)


def test_the_silence_guard_makes_a_long_resting_melody_play():
    probs = np.array([[0.1, 0.1, 0.8], [0.1, 0.1, 0.8]])
    rests = np.array([False, False, True])
    guarded = silence_guard(probs, np.array([40, 4]), rests, 32)
    assert guarded[0, 2] == 0 and np.isclose(guarded[0].sum(), 1) and guarded[0, 0] == 0.5
    assert np.array_equal(guarded[1], probs[1])  # a short rest is left alone


def test_a_copy_cap_with_an_older_kind_of_index_says_so(rhythm):
    """The sampler hashes 8-note windows; a checkpoint with the first (4-note, blake2b) index cannot be capped."""
    import copy

    older = copy.copy(rhythm)
    older.info = dict(rhythm.info, originality=dict(rhythm.info["originality"], order=4, unit=None))
    with pytest.raises(melody.SeedError, match="older kind"):
        melody.generate(older, melody.melody_from_text("C4 D4 E4", rhythm.encoding), 8, max_copy=8)


def test_a_note_pinned_twice_is_refused_naming_both_pins():
    with pytest.raises(melody.SeedError, match=r"Note 5 of the continuation is pinned twice \(5:G4 and 5:C5/4\)"):
        parse_pins("5:G4 10:C5 5:C5/4")
    assert set(parse_pins("5:G4 6:G4")) == {5, 6}
