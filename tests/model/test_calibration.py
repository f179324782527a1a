"""The length calibration: factors fitted so that free continuations get the real songs' lengths."""
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from small_models import rhythm_model

import melody
from melody.generation.sampling import generate
from melody.model import calibration
from melody.model import checkpoint as ckpt
from melody.music.encoding import CLASSIC, RHYTHM, melody_from_text


def token(config, pitch, steps):
    return config.tokens_of([(0, steps, pitch)])[0]


def test_every_token_has_a_kind_by_note_or_rest_and_length():
    kinds = calibration.length_kinds(RHYTHM)
    assert kinds[token(RHYTHM, 60, 4)] == 3 and kinds[token(RHYTHM, 72, 16)] == 15
    rest = RHYTHM.tokens_of([(0, 1, 60), (3, 1, 62)])[1]  # the 2-step rest between the notes
    assert kinds[rest] == RHYTHM.length_slots + 1
    mix = calibration.length_mix([[token(RHYTHM, 60, 4)] * 3, [rest]], kinds)
    assert mix[3] == 3 and mix[RHYTHM.length_slots + 1] == 1 and mix.sum() == 4


def test_calibrate_reweights_and_renormalises():
    probs = np.array([[0.5, 0.5, 0.0], [0.2, 0.3, 0.5]])
    out = calibration.calibrate(probs, np.array([3.0, 1.0, 1.0]))
    assert out[0] == pytest.approx([0.75, 0.25, 0.0]) and np.allclose(out.sum(-1), 1)
    assert np.allclose(calibration.calibrate(probs, np.ones(3)), probs)


def quarter_note_songs(count=4, bars=20):
    """Songs of quarter notes only (a scale up and down), as the trainer's songs carry them."""
    line = "C4/4 D4/4 E4/4 F4/4 G4/4 A4/4 B4/4 C5/4 B4/4 A4/4 G4/4 F4/4 E4/4 D4/4 "
    text = " ".join([line] * (bars * 4 // 14 + 1))
    return [SimpleNamespace(melody=melody_from_text(text, RHYTHM), name=f"song {n}") for n in range(count)]


def quarter_share(model, seed):
    runs = generate(model, seed, 64, rng_seed=5, num_variations=4, repetition_guard=False)
    kinds = calibration.length_kinds(RHYTHM)
    mix = calibration.length_mix([r.tokens[len(seed.tokens):] for r in runs], kinds)
    return mix[3] / mix.sum()


def test_fitting_moves_the_generated_lengths_towards_the_songs():
    model = rhythm_model()
    songs = quarter_note_songs()
    seed = songs[0].melody.part(0, 32, RHYTHM)
    before = quarter_share(model, seed)
    seen = []
    log_factors = calibration.fit_calibration(model, songs, generate, progress=lambda *a: seen.append(a))
    after = quarter_share(model, seed)
    assert before < 0.2 and after > 2 * before  # an untrained model: lengths at random, then far more quarters
    assert len(seen) == calibration.ROUNDS and seen[-1][2] < seen[0][2]  # each round gets closer
    assert log_factors.shape == (RHYTHM.vocab_size,) and np.allclose(model.length_calibration.numpy(), log_factors)
    assert abs(log_factors).max() <= np.log(calibration.LIMITS[1]) + 1e-6
    # memory=0 is the network alone: without the calibration
    alone = generate(model, seed, 64, rng_seed=5, num_variations=4, repetition_guard=False, memory=0)
    with torch.no_grad():
        model.length_calibration.zero_()
    plain = generate(model, seed, 64, rng_seed=5, num_variations=4, repetition_guard=False, memory=0)
    assert [r.tokens for r in alone] == [r.tokens for r in plain]


def test_an_encoding_without_lengths_or_songs_too_short_get_no_calibration():
    model = rhythm_model()
    short = [SimpleNamespace(melody=melody_from_text("C4 D4 E4", RHYTHM), name="short")]
    assert not calibration.fit_calibration(model, short, generate).any()
    model.encoding = CLASSIC
    assert not calibration.fit_calibration(model, quarter_note_songs(1), generate).any()


def test_checkpoints_from_before_the_calibration_load_without_it():
    model = rhythm_model()
    state = {k: v for k, v in model.state_dict().items() if k != "length_calibration"}
    loaded = ckpt.build_model({"model_config": model.config.__dict__, "model_state": state})
    assert loaded.length_calibration.shape == (RHYTHM.vocab_size,) and not loaded.length_calibration.any()


def test_the_shipped_default_checkpoint_is_calibrated_and_the_classic_one_needs_none():
    assert melody.load_model().length_calibration.any()
    assert not melody.load_model("checkpoints/classic.pt").length_calibration.any()
