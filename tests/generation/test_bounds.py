"""No index outside its array in generation: the compiled steps are only reached through checks, and
any melody the encoder can make continues, whatever its bar grid and whatever is asked of it.

The whole suite runs with numba's bounds checking on (``tests/conftest.py``), so an index past an
array in a compiled step is an ``IndexError`` here, not silent damage (or a crash of the server).
"""
import os

import numpy as np
import pretty_midi
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from numba import config as numba_config

from melody import SeedError, generate, load_model
from melody.generation.batch_memory import BatchEcho
from melody.generation.kernels import KernelInputError, advance_clock, echo_mix, first_layer, memory_add, plan_mix
from melody.generation.stepper import stepper_for
from melody.music.encoding import MAX_BAR_STEPS, Melody, melody_from_notes, meter_of
from melody.serve.playground import Playground
from melody.settings import Settings

CHECKPOINTS = ("rhythm.pt", "classic.pt")


@pytest.fixture(scope="module")
def models():
    return {name: load_model(f"checkpoints/{name}") for name in CHECKPOINTS}


def test_the_suite_checks_bounds_in_compiled_code():
    assert numba_config.BOUNDSCHECK, "tests/conftest.py turns on NUMBA_BOUNDSCHECK for the whole suite"


def test_a_two_sixteenths_bar_is_a_bar_and_a_255_whole_note_bar_is_not():
    assert meter_of(1, 8) == 2 and meter_of(2, 16) == 2 and meter_of(11, 4) == 44
    assert meter_of(255, 1) == 16 and meter_of(17, 4) == 16  # longer than MAX_BAR_STEPS: taken as 4/4


def test_the_echo_looks_past_its_columns_only_after_growing_them():
    """The cause of the crash: the echo's array was handed to the compiled step before it grew to
    hold the onset asked about (a note starting just before the edge and ending past it)."""
    echo = BatchEcho(1, steps_per_bar=2, bar_offset=0, origin=0, vocab_size=8)
    width = echo.at.shape[1]
    onset = 0
    while onset - echo.origin < width - 1:  # notes up to the last column there is
        echo.add([onset % 8], [onset])
        onset += 1
    probs = np.full((1, 8), 1 / 8)
    echo.mix_into(probs, [onset + 3], np.full(126, 0.01))  # the next onset lies past the columns
    assert echo.at.shape[1] > width and probs.sum() == pytest.approx(1.0)
    echo.restate(probs, [onset + 3], [2], 0.5)
    assert probs.sum() == pytest.approx(1.0)


def bar_of_two_sixteenths(path, notes=188):
    """A file in 1/8 (a bar of 2 sixteenths) like the fan-made one that crashed the server: it reads as
    some 90 bars of a few notes each."""
    rng = np.random.default_rng(1)
    midi = pretty_midi.PrettyMIDI(initial_tempo=120)
    midi.time_signature_changes.append(pretty_midi.TimeSignature(1, 8, 0))
    piano, t = pretty_midi.Instrument(0), 0.0
    for _ in range(notes):
        length = rng.choice([0.125, 0.25, 0.375, 0.5])
        piano.notes.append(pretty_midi.Note(90, int(rng.integers(60, 80)), t, t + length))
        t += length + rng.choice([0, 0, 0.125])
    midi.instruments.append(piano)
    midi.write(str(path))
    return path


def test_an_upload_with_a_bar_of_two_sixteenths_continues_with_every_default(tmp_path):
    playground = Playground(output_dir=tmp_path)
    seed, whole = playground.seed_from_upload(bar_of_two_sixteenths(tmp_path / "two.mid"))
    assert whole.steps_per_bar == 2 and whole.end_step // 2 > 80
    result = playground.generate(seed, Settings(rng_seed=1))
    notes = result.variations[0].continuation.notes
    assert len(notes) == Settings.length and notes[0][0] >= seed.end_step
    assert result.variations[0].audio_path.stat().st_size > 0


# --- the compiled steps refuse what would index outside their arrays ---------------------------------


def test_a_token_outside_the_vocabulary_is_refused_before_the_network_step(models):
    weights = stepper_for(models["rhythm.pt"])
    n = weights.hidden
    state, gates, c = np.zeros((2, 2 * n), np.float32), np.zeros((2, 4 * n), np.float32), np.zeros((2, n), np.float32)
    positions = np.zeros(2, np.int64)
    for tokens in ([0, weights.vocab_size], [-1, 3]):
        with pytest.raises(KernelInputError, match="tokens"):
            first_layer(state, weights.recurrent[0], weights.token_gates, np.array(tokens), weights.position_gates,
                        positions, gates, c, False)
    with pytest.raises(KernelInputError, match="bar positions"):
        first_layer(state, weights.recurrent[0], weights.token_gates, np.array([1, 2]), weights.position_gates,
                    np.array([0, len(weights.position_gates)]), gates, c, False)


def test_the_echo_and_the_plan_refuse_onsets_outside_their_columns():
    echo = BatchEcho(2, steps_per_bar=4, bar_offset=0, origin=10, vocab_size=5)
    echo.add([1, 2], [10, 10])
    probs = np.full((2, 5), 0.2)
    weights = np.full(126, 0.01)
    for onsets in ([10, echo.origin + echo.at.shape[1]], [10, echo.origin]):  # past the end; before any lag
        with pytest.raises(KernelInputError, match="onsets"):
            echo_mix(probs, echo.at, echo.origin, echo.fixed, True, 10, 4, 0, echo.categories, np.array(onsets),
                     weights, 0.95, 5)
    with pytest.raises(KernelInputError, match="restated step"):
        plan_mix(probs, echo.at, echo.origin, np.array([14, 14]), np.array([4, 4 + 14 - echo.origin]), 0.5, 5)
    with pytest.raises(KernelInputError, match="probabilities"):
        echo_mix(np.full((2, 4), 0.25), echo.at, echo.origin, echo.fixed, True, 10, 4, 0, echo.categories,
                 np.array([14, 14]), weights, 0.95, 5)
    with pytest.raises(KernelInputError, match="tokens"):
        echo.add([1, 5], [14, 14])


def test_the_memory_and_the_clock_refuse_tokens_outside_the_vocabulary():
    tokens, positions, match = (np.full((1, 4), -1, np.int64) for _ in range(3))
    with pytest.raises(KernelInputError, match="tokens"):
        memory_add(tokens, positions, match, 0, np.array([7]), np.zeros(0, np.int64), 3, 7)
    with pytest.raises(KernelInputError, match="column"):
        memory_add(tokens, positions, match, 4, np.array([1]), np.zeros(0, np.int64), 3, 7)
    table = np.arange(6)
    out = [np.zeros(1, np.int64) for _ in range(7)]
    with pytest.raises(KernelInputError, match="tokens"):
        advance_clock(np.array([6]), table, table, *out[:2], 0, 16, *out[2:])


def test_a_melody_built_by_hand_with_a_broken_grid_gets_a_message_not_a_crash(models):
    model = models["rhythm.pt"]
    good = melody_from_notes([0, 4], [4, 4], [60, 62], model.encoding)
    broken = [dict(steps_per_bar=0), dict(steps_per_bar=MAX_BAR_STEPS + 1), dict(steps_per_bar=2.5),
              dict(tokens=(model.encoding.vocab_size,) * 2), dict(end_step=100), dict(tokens=(-1, 3)),
              dict(notes=((0, 4, 200), (4, 4, 62)))]
    for change in broken:
        with pytest.raises(SeedError):
            generate(model, Melody(**{**good.__dict__, **change}), 4, rng_seed=1)


# --- any melody the encoder can make continues, with any steering ------------------------------------

PIN_NAMES = ["C4", "G4", "E5", "A3", "C6"]
SCALES = [None, "C major", "A minor pentatonic", "seed", "key", "D dorian", "chromatic"]


@st.composite
def encoded_melodies(draw):
    """A melody as the encoder makes it (``melody_from_notes``: keys, folding, cut overlaps and long
    notes, rests), on any bar grid of 1 to 48 steps and any bar offset, one note or many, pitches
    and lengths past the vocabulary's edges; or, now and then, a melody of rests alone."""
    bar = draw(st.integers(1, 48))
    offset = draw(st.integers(-500, 500))
    count = draw(st.integers(1, 40))
    gaps = draw(st.lists(st.integers(0, 40), min_size=count, max_size=count))
    lengths = draw(st.lists(st.integers(1, 40), min_size=count, max_size=count))
    pitches = draw(st.lists(st.sampled_from([0, 21, 53, 54, 60, 71, 90, 91, 127]) | st.integers(0, 127),
                            min_size=count, max_size=count))
    start = draw(st.integers(0, 300))
    onsets = start + np.cumsum(gaps) + np.r_[0, np.cumsum(lengths)[:-1]]
    tail = draw(st.integers(0, 50))
    return dict(onsets=onsets, lengths=lengths, pitches=pitches, bar=bar, offset=offset,
                end=int(onsets[-1] + lengths[-1] + tail), rests_only=draw(st.integers(0, 9)) == 0,
                part=draw(st.none() | st.tuples(st.integers(0, 45), st.integers(1, 50))))


def build(spec, config):
    if spec["rests_only"]:
        tokens = config.tokens_of([(0, 1, config.lowest_pitch)], spec["end"])[1:] if config.rhythm else ()
        return Melody(notes=(), tokens=tokens, end_step=0, steps_per_bar=spec["bar"], bar_offset=spec["offset"],
                      rhythm=config.rhythm)
    melody = melody_from_notes(spec["onsets"], spec["lengths"], spec["pitches"], config, steps_per_bar=spec["bar"],
                               bar_offset=spec["offset"], end_step=spec["end"])
    if spec["part"] is not None:
        start, count = spec["part"]
        melody = melody.part(min(start, len(melody) - 1), count, config)
    return melody


@st.composite
def requests(draw):
    """Everything ``generate`` can be asked: the sampling rule, variations, memory, and every steering option."""
    length = draw(st.integers(0, 24))
    pins = None
    if length and draw(st.booleans()):
        chosen = draw(st.lists(st.integers(0, length - 1), min_size=1, max_size=3, unique=True))
        pins = " ".join(f"{i}:{draw(st.sampled_from(PIN_NAMES))}"
                        + draw(st.sampled_from(["", "/4", "/16", "/1", "/8."]))
                        + draw(st.sampled_from(["", "", f"@{draw(st.integers(0, 8 * length))}"])) for i in chosen)
    return dict(length=length, temperature=draw(st.sampled_from([0.0, 0.5, 1.0, 2.0])),
                beta=draw(st.sampled_from([None, None, 15.0, 0.5])), top_k=draw(st.sampled_from([None, 1, 5])),
                top_p=draw(st.sampled_from([None, 0.3, 0.9])), rng_seed=draw(st.integers(0, 2**31)),
                num_variations=draw(st.integers(1, 3)), memory=draw(st.sampled_from([0.0, 0.5, 1.0])),
                repetition_guard=draw(st.booleans()), pins=pins, scale=draw(st.sampled_from(SCALES)),
                scale_strength=draw(st.sampled_from([1.0, 0.5])), loop=draw(st.booleans()),
                max_copy=draw(st.sampled_from([None, None, 8, 12])), particles=draw(st.sampled_from([None, 8])))


# 120 fixed examples in the suite (about 10 s); MELODY_PROPERTY_EXAMPLES=1500 draws that many afresh
EXAMPLES = int(os.environ.get("MELODY_PROPERTY_EXAMPLES") or 0)


@settings(max_examples=EXAMPLES or 120, deadline=None, derandomize=not EXAMPLES,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(spec=encoded_melodies(), request=requests(), checkpoint=st.sampled_from(CHECKPOINTS))
def test_any_encoded_melody_continues_with_any_steering(models, spec, request, checkpoint):
    model = models[checkpoint]
    config = model.encoding
    seed = build(spec, config)
    steered = request["pins"] or request["scale"] or request["loop"] or request["max_copy"]
    may_fall_short = steered or not request["repetition_guard"]  # without the guard a melody may rest to the end
    try:
        runs, probs = generate(model, seed, return_probs=True, **request)
    except SeedError as exc:  # a steering request that cannot be met says so; nothing else may fail
        assert steered or (request["scale"] == "seed" and not seed.notes), exc
        assert str(exc)
        return
    length, variations = request["length"], request["num_variations"]
    assert len(runs) == variations
    assert probs.shape[0] == variations and probs.shape[2] == config.vocab_size
    start = seed.end_step if seed.notes else 0
    for run in runs:
        assert len(run.notes) == length or (may_fall_short and len(run.notes) <= length)
        assert len(run.tokens) <= probs.shape[1]
        onsets = [onset for onset, _, _ in run.notes]
        assert onsets == sorted(set(onsets)) and all(onset >= start for onset in onsets)
        assert all(config.lowest_pitch <= pitch <= config.highest_pitch for *_, pitch in run.notes)
        assert all(1 <= steps <= config.max_steps for _, steps, _ in run.notes) if config.rhythm else True
        assert run.steps_per_bar == seed.steps_per_bar and run.bar_offset == seed.bar_offset
