"""The rhythm encoding: notes with lengths and rests, the bar grid, and generation with them."""
import mido
import numpy as np
import pytest
import torch
from midi_factory import timed_notes_in, write_notes
from small_models import rhythm_model, stepped

import melody
from melody.music.encoding import CLASSIC, RHYTHM, encode_midi, melody_from_text
from melody.music.midi_io import melody_to_midi

TUNE = [(67, 1, 1), (69, 2, 0.5), (71, 2.5, 0.5), (72, 3, 2), (76, 6, 0.25), (74, 6.25, 0.75), (72, 7, 1.5)]


def test_midi_to_melody_to_midi_keeps_onsets_and_lengths(tmp_path):
    path = write_notes(tmp_path / "tune.mid", TUNE)  # a pickup, rests, dotted and sixteenth notes
    song = encode_midi(path, RHYTHM)
    expected = [(int(start * 4), int(length * 4), pitch) for pitch, start, length in TUNE]
    assert song.original_notes() == expected
    assert song.notes == tuple((o, s, p + song.key_shift) for o, s, p in expected)
    back = melody_to_midi(song.original_notes(), tempo=120, start_step=0)
    back.write(str(tmp_path / "back.mid"))
    step = 60 / 120 / 4
    assert np.allclose(timed_notes_in(tmp_path / "back.mid"), [(o * step, (o + s) * step, p) for o, s, p in expected])


def test_tokens_hold_pitch_or_rest_and_length():
    notes = [(0, 4, 60), (8, 2, 62), (10, 40, 64), (60, 1, 65)]  # a rest of 4, a note too long for one token
    tokens = RHYTHM.tokens_of(notes, end_step=64)
    items = [(RHYTHM.pitch_of(t), RHYTHM.steps_of(t)) for t in tokens]
    assert items == [(60, 4), (None, 4), (62, 2), (64, 16), (None, 16), (None, 16), (None, 2), (65, 1), (None, 3)]
    assert RHYTHM.notes_of(tokens, 0) == ([(0, 4, 60), (8, 2, 62), (10, 16, 64), (60, 1, 65)], 64)
    assert RHYTHM.vocab_size == 38 * 16 and CLASSIC.vocab_size == 37
    assert CLASSIC.tokens_of(notes) == (6, 8, 10, 11)  # the classic encoding: pitches only


def test_a_time_signature_and_an_upbeat_set_the_bar_positions(tmp_path):
    midi = melody_to_midi([(8, 4, 60), (12, 4, 62), (16, 4, 64), (20, 8, 65)], tempo=100, start_step=0)
    import pretty_midi

    midi.time_signature_changes = [pretty_midi.TimeSignature(3, 4, 0.0)]
    midi.write(str(tmp_path / "waltz.mid"))
    song = encode_midi(tmp_path / "waltz.mid", RHYTHM)
    assert song.steps_per_bar == 12 and song.bar_offset == 0
    assert [song.bar_position(o) for o, _, _ in song.notes] == [8, 0, 4, 8]
    # the model is told where each next token starts: after 60 (at 8, 4 long) comes step 12 = the bar's start
    assert list(song.position_inputs(RHYTHM) % 32)[:3] == [0, 4, 8]
    assert mido.MidiFile(tmp_path / "waltz.mid").tracks  # the file is readable


def test_typed_notes_with_lengths_become_the_same_melody_as_a_file(tmp_path):
    typed = melody_from_text("G4/4 A4/8 B4/8 C5/2 r/4 E5/16 D5*3 C5/4.", RHYTHM)
    read = encode_midi(write_notes(tmp_path / "t.mid", [(p, s - 1, n) for p, s, n in TUNE]), RHYTHM)
    assert typed.notes == read.notes and typed.tokens == read.tokens


def test_classic_encoding_keeps_the_write_ups_skyline_and_drops_lengths(tmp_path):
    lead = [(72, i, 1) for i in range(0, 8, 2)]  # a melody with rests between its notes
    pad = [(60, i, 1) for i in range(8)]  # an accompaniment playing on every beat
    path = write_notes(tmp_path / "two.mid", lead, extra_tracks=[(pad, 0, False)])
    assert list(encode_midi(path, CLASSIC).pitches) == [72, 60, 72, 60, 72, 60, 72, 60]  # rests filled
    rhythm = encode_midi(path, RHYTHM)
    assert len(rhythm) == 4 and set(rhythm.original_pitches()) == {72}  # the melody voice, rests kept


def test_the_numpy_stepper_matches_the_network_with_bar_positions():
    from melody.generation.stepper import LstmStepper

    model = rhythm_model()
    tokens = torch.randint(0, RHYTHM.vocab_size, (3, 30), generator=torch.Generator().manual_seed(0))
    positions = torch.randint(0, model.config.position_inputs, (3, 30), generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        expected, _ = model(tokens, positions)
    zeros = torch.zeros(1, 3, 16)
    run = LstmStepper(model).start(zeros, zeros)
    got = np.stack([run.step(tokens[:, t].numpy(), positions[:, t].numpy()) for t in range(30)], axis=1)
    assert np.allclose(got, expected.numpy(), atol=1e-4)
    assert np.allclose(np.exp(got).sum(-1), 1.0, atol=1e-5)  # a factored read-out is a distribution


@pytest.mark.parametrize("batch", [2, 9])  # the compiled loop multiplies a small batch, BLAS a large one
def test_the_compiled_step_of_two_layers_matches_the_network_and_its_probabilities_are_the_calibrated_logits(batch):
    model = rhythm_model(layers=2)
    tokens = torch.randint(0, RHYTHM.vocab_size, (batch, 25), generator=torch.Generator().manual_seed(2))
    positions = torch.randint(0, model.config.position_inputs, (batch, 25), generator=torch.Generator().manual_seed(3))
    with torch.no_grad():
        expected, _ = model(tokens, positions)
    factors = np.random.default_rng(0).uniform(0.5, 2.0, RHYTHM.vocab_size)
    logits, probs = stepped(model, tokens, positions, factors)
    assert np.allclose(logits, expected.numpy(), atol=1e-4)
    calibrated = np.exp(logits) * factors
    assert np.allclose(probs, calibrated / calibrated.sum(-1, keepdims=True), atol=1e-6)


def test_generation_continues_after_the_seed_with_lengths_and_steps_agree():
    model = rhythm_model()
    seed = melody_from_text("C4/4 D4/8 E4/8 r/4 G4/2", RHYTHM)
    runs = melody.generate(model, seed, 20, rng_seed=4, num_variations=2)
    steps = list(melody.sample_steps(model, seed, 20, rng_seed=4, num_variations=2))
    for row, run in enumerate(runs):
        assert len(run.notes) == 20 and run.notes[0][0] >= seed.end_step
        assert all(a[0] + a[1] <= b[0] for a, b in zip(run.notes, run.notes[1:]))  # one note at a time
        assert [s.notes[row] for s in steps if s.notes[row] is not None] == list(run.notes)
        assert RHYTHM.notes_of(run.tokens, seed.end_step)[0] == list(run.notes)
    whole = seed.then(runs[0], RHYTHM)
    assert whole.notes == seed.notes + runs[0].notes and whole.end_step == runs[0].end_step


@pytest.mark.parametrize("seed", [[60, 62, 64], []])
def test_a_rhythm_model_takes_plain_pitches_and_empty_seeds(seed):
    run = melody.generate(rhythm_model(), seed, 8, rng_seed=1)[0]
    assert len(run.notes) == 8 and run.rhythm
