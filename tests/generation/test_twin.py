"""Generation and evaluation are twins: the distribution generation samples from is the one evaluation
scores, token for token, on the shipped checkpoints.

Generation (``melody.generation.continuation.Continuation``) runs the seed through the torch network
once, then the compiled float32 LSTM step (``stepper``), and mixes in the batched song memory and bar
echo (``batch_memory``); evaluation (``melody.evaluate.evaluation``) runs the torch network over the
whole song (teacher forcing) and mixes with the reference ``SongMemory`` and ``BarEcho``. Here a
melody built in code is fed to a ``Continuation`` one true token at a time (teacher forcing, as
``sampling.replay`` does), and at every step ``Continuation.distribution()`` is compared with:

* the evaluation's whole distribution at that token: the network's (``token_log_probs(full=True)``)
  mixed with the memory and the echo as ``top1_accuracy`` mixes them (``evaluation_distributions``
  below, a copy of its loop);
* the evaluation's probability of the true token, ``predictions(...).probs(memory_weights,
  echo_weights)`` with ``fitted_weights(model)``: what ``bits_per_note`` scores.

Compared: the bare network (``memory=0``), the network with the song memory (a copy of the model
whose echo weights are zero), with the memory and the echo (as shipped), at half weight
(``memory=0.5``), and as shipped with the calibration off (a copy whose calibration is zero); with
bar-position inputs (the rhythm model) and without (the classic model); from an empty seed and from
seeds of a few notes; in 4/4 from a bar line, in 3/4 with a pickup, and in 7/8 (a bar length the
model has no meter class for) with a pickup and a bar offset. Also ``generate(return_probs=True)``
on its own sampled tokens. Tolerance: float32 against float64 (``ATOL``).

What only one side does, and how it is kept out:

* the length calibration (``melody.model.calibration``): generation multiplies the network's
  probabilities by it (when ``memory > 0``), evaluation never does. It is accounted for: the
  evaluation's network distribution is calibrated with the same public ``calibrate`` before the
  memory and the echo are mixed in, as the calibration's documentation says it acts (on the network
  alone); and once turned off (a copy of the model with the calibration zero, as a checkpoint
  without one has it), where generation must equal the evaluation as it is, ``total_bits`` and
  ``top1_accuracy`` included.
* the form plan (``melody.model.form``): generation-only, drawn with an ``rng``; a ``Continuation``
  made without one has none (documented). For ``generate``, which always passes an ``rng``, the
  plan is kept out with a copy of the model whose plan is zero (a checkpoint without a plan), or by
  ``memory=0``.
* the repetition and silence guard and the sampling rule (temperature, top-k ...): applied after
  ``distribution()`` (``Continuation.guarded``, ``rules.apply_rule``); ``return_probs`` documents
  the distribution before them. Not compared.
* an empty seed starts generation at step 0 of its own bar grid, where it has no pickup to know of:
  melodies with a pickup are compared from seeds that hold it.

"Zero" for the echo weights, the calibration and the plan is the model's own "not fitted" state
(``MelodyLSTM``: "0 (not used) until fitted"); each copy changes that one buffer and nothing else.
"""
import copy
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch

import melody
from melody.data.crops import token_sequence
from melody.evaluate.evaluation import (
    fitted_weights,
    mixed_distributions,
    predictions,
    token_log_probs,
    top1_accuracy,
    total_bits,
)
from melody.generation.continuation import Continuation, seed_melody
from melody.model import checkpoint as ckpt
from melody.model.calibration import calibrate
from melody.music.encoding import melody_from_notes, melody_from_text, notes_of_items

ROOT = Path(__file__).resolve().parents[2]
ATOL = 1e-5  # float32 (the compiled step, the torch network) against float64

# 4/4 from a bar line: two-bar phrases A and B as A A B A B (repeats for the memory and the echo),
# with rests, dotted notes and a sixteenth.
A = "C5/8 D5/8 E5/4 G5/4 E5/8 D5/8 C5/4 r/8 G4/8 A4/4 G4/4"
B = "F5/8. E5/16 D5/8 C5/8 D5/4 B4/4 C5/2 r/4 G4/4"
FOUR_FOUR = " ".join([A, A, B, A, B])
# 3/4 with a pickup: the first note on the third beat of an empty bar.
P = "C5/4. D5/8 E5/4 D5/4 C5/8 B4/8 A4/4 G4/2 r/8 G4/8"
Q = "A4/4 B4/4 C5/4 D5/2. r/4 E5/8 D5/8 C5/4 B4/4"
WALTZ = " ".join(["3/4 r/2 G4/4", P, Q, P, Q])
# 7/8 (14 steps a bar, 2+2+3 eighths), bars starting at step 3: a pickup of 3 steps at step 0.
SEVEN_BAR = [(67, 4), (69, 4), (71, 6), (72, 2), (71, 2), (69, 4), (None, 2), (67, 4)]
SEVEN_OTHER = [(64, 4), (65, 4), (67, 6)]
SEVEN_ITEMS = [(62, 3)] + (SEVEN_BAR + SEVEN_OTHER) * 2 + SEVEN_BAR + [(60, 14)]


def seven_eight(config):
    onsets, steps, pitches, now = notes_of_items(SEVEN_ITEMS)
    return melody_from_notes(onsets, steps, pitches, config, steps_per_bar=14, bar_offset=3, end_step=now,
                             source="7/8 in code")


MELODIES = {
    "4/4": lambda config: melody_from_text(FOUR_FOUR, config),
    "3/4 pickup": lambda config: melody_from_text(WALTZ, config),
    "7/8 pickup": seven_eight,
}


@pytest.fixture(scope="module", autouse=True)
def one_torch_thread():
    """Torch on one thread, as the server runs it (``melody.web.launch``): for these short sequences two
    threads on a shared machine are many times slower. Restored afterwards."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def models():
    """The shipped checkpoints, each as shipped and as copies with one fitted part set to zero."""
    out = {}
    for name in ("rhythm", "classic"):
        path = ROOT / "checkpoints" / f"{name}.pt"
        if not path.is_file():
            pytest.skip(f"{path} is not present")
        shipped = melody.load_model(path)
        variants = {"shipped": shipped}
        for variant, buffer in (("no echo", "echo_weights"), ("no calibration", "length_calibration"),
                                ("no plan", "form_plan")):
            other = copy.deepcopy(shipped)
            with torch.no_grad():
                getattr(other, buffer).zero_()
            variants[variant] = other
        out[name] = variants
    return out


def test_the_shipped_checkpoints_have_every_part_this_compares():
    assert ckpt.SHIPPED_DEFAULT == "rhythm.pt"  # the default model is the rhythm one
    rhythm = melody.load_model(ROOT / "checkpoints" / "rhythm.pt")
    classic = melody.load_model(ROOT / "checkpoints" / "classic.pt")
    for model in (rhythm, classic):
        assert model.memory_weights.any() and model.echo_weights.any() and model.form_plan.any()
    assert rhythm.config.position_inputs and rhythm.config.memory_aligned and rhythm.length_calibration.any()
    assert not classic.config.position_inputs and not classic.length_calibration.any()


def factors_of(model):
    """The length calibration's factors, as generation takes them (None when there is none)."""
    calibration = model.length_calibration.cpu().double().numpy()
    return np.exp(calibration) if calibration.any() else None


def network_distributions(model, seq):
    """The evaluation's network distribution at every token ``[len, vocab]`` (``token_log_probs``)."""
    return np.exp(token_log_probs(model, [seq], full=True)[0])


def evaluation_distributions(model, seq, network, memory_weights, echo_weights, factors=None):
    """The evaluation's whole distribution at every token: the ``network``'s (calibrated by ``factors``),
    mixed with the song memory, then the echo, as ``evaluation.top1_accuracy`` mixes them (its loop)."""
    probs = network.copy() if factors is None else calibrate(network, factors)
    return mixed_distributions(model, seq, probs, memory_weights, echo_weights)


def scored_probabilities(found, seq, network, memory_weights, echo_weights, factors=None):
    """The evaluation's probability of every true token: ``Predictions.probs`` of ``found``
    (``predictions(model, [seq])``; what ``bits_per_note`` scores), its network part calibrated by
    ``factors`` (from the ``network``'s whole distributions)."""
    if factors is not None:
        found = replace(found, lstm=calibrate(network, factors)[np.arange(len(seq)), seq.tokens])
    return found.probs(memory_weights, echo_weights)


def teacher_forced(model, song, seed_notes, memory, tokens=None):
    """``Continuation.distribution()`` at every token of ``song`` after its first ``seed_notes``
    notes (the seed), fed the true tokens (or ``tokens``, with the seed's): ``(seed tokens, [len, vocab])``."""
    seed = seed_melody(model, song.part(0, seed_notes, model.encoding))
    start = len(seed.tokens)
    assert tuple(song.tokens[:start]) == tuple(seed.tokens)  # the seed is the song's beginning
    tokens = song.tokens if tokens is None else tokens
    state = Continuation(model, seed, 1, memory=memory)  # no rng: no form plan
    out = []
    for token in tokens[start:]:
        out.append(state.distribution()[0])
        state.advance([token])
    return start, np.array(out)


def configurations(variants):
    """``(name, model, memory, memory weights, echo weights, factors)``: what generation runs and what
    evaluation mixes for the same distribution."""
    shipped, no_echo, plain = variants["shipped"], variants["no echo"], variants["no calibration"]
    memory_weights, echo_weights = fitted_weights(shipped)
    assert fitted_weights(no_echo)[1] is None and factors_of(plain) is None
    return [
        ("network", shipped, 0.0, None, None, None),
        ("network + memory", no_echo, 1.0, memory_weights, None, factors_of(no_echo)),
        ("network + memory + echo", shipped, 1.0, memory_weights, echo_weights, factors_of(shipped)),
        ("half memory", shipped, 0.5, memory_weights * 0.5, echo_weights * 0.5, factors_of(shipped)),
        ("uncalibrated", plain, 1.0, *fitted_weights(plain), None),
    ]


CASES = [("rhythm", "4/4", 0), ("rhythm", "4/4", 5), ("rhythm", "3/4 pickup", 2), ("rhythm", "7/8 pickup", 4),
         ("classic", "4/4", 0), ("classic", "4/4", 5), ("classic", "3/4 pickup", 3)]


@pytest.mark.parametrize("name,meter,seed_notes", CASES)
def test_generation_samples_from_the_distribution_evaluation_scores(models, name, meter, seed_notes):
    variants = models[name]
    song = MELODIES[meter](variants["shipped"].encoding)
    seq = token_sequence(song, variants["shipped"].encoding)
    assert len(song) >= 25
    # the variants differ in one fitted buffer, not in the network: its pass over the song is made once
    network = network_distributions(variants["shipped"], seq)
    evaluated = predictions(variants["shipped"], [seq])
    np.testing.assert_array_equal(evaluated.lstm, network[np.arange(len(seq)), seq.tokens])
    found = {}
    for label, model, memory, memory_weights, echo_weights, factors in configurations(variants):
        start, generated = teacher_forced(model, song, seed_notes, memory)
        expected = evaluation_distributions(model, seq, network, memory_weights, echo_weights, factors)[start:]
        scored = scored_probabilities(evaluated, seq, network, memory_weights, echo_weights, factors)[start:]
        true = generated[np.arange(len(generated)), seq.tokens[start:]]
        assert generated.shape == expected.shape and len(generated) >= 20, label
        np.testing.assert_allclose(generated.sum(-1), 1, atol=ATOL, err_msg=label)
        np.testing.assert_allclose(generated, expected, rtol=0, atol=ATOL, err_msg=label)
        np.testing.assert_allclose(true, scored, rtol=0, atol=ATOL, err_msg=label)
        found[label] = generated
    # each part changes what is compared (else a part could be left out and still pass)
    assert np.abs(found["network + memory"] - found["network"]).max() > 0.1
    assert np.abs(found["network + memory + echo"] - found["network + memory"]).max() > 0.01
    assert np.abs(found["half memory"] - found["network + memory + echo"]).max() > 0.01
    if name == "rhythm":  # the classic checkpoint has no calibration
        assert np.abs(found["uncalibrated"] - found["network + memory + echo"]).max() > 0.01


@pytest.mark.parametrize("name", ["rhythm", "classic"])
def test_from_an_empty_seed_generation_scores_as_total_bits_and_top1_accuracy(models, name):
    model = models[name]["no calibration"]  # evaluation as it is: no calibration to account for
    song = MELODIES["4/4"](model.encoding)
    seq = token_sequence(song, model.encoding)
    for memory in (True, False):
        start, generated = teacher_forced(model, song, 0, float(memory))
        assert start == 0  # the first token too, from the model's start distribution
        true = generated[np.arange(len(seq)), seq.tokens]
        bits, count = total_bits(model, [seq], memory=memory)
        assert count == len(seq)
        assert -np.log2(true).sum() == pytest.approx(bits, rel=1e-6)
        hits = float(np.mean(generated.argmax(-1) == seq.tokens))
        assert hits == pytest.approx(top1_accuracy(model, [seq], memory=memory))


@pytest.mark.parametrize("name,variant,memory", [("rhythm", "no plan", 1.0), ("rhythm", "shipped", 0.0),
                                                 ("classic", "no plan", 1.0)])
def test_generate_returns_the_distributions_evaluation_scores_for_what_it_played(models, name, variant, memory):
    model = models[name][variant]
    seed = melody_from_text(A + " " + A, model.encoding)
    [result], probs = melody.generate(model, seed, 24, rng_seed=7, return_probs=True, memory=memory)
    played = replace(seed, tokens=seed.tokens + result.tokens, end_step=result.end_step)
    seq = token_sequence(played, model.encoding)
    memory_weights, echo_weights = fitted_weights(model) if memory else (None, None)
    factors = factors_of(model) if memory else None
    network = network_distributions(model, seq)
    expected = evaluation_distributions(model, seq, network, memory_weights, echo_weights, factors)[len(seed.tokens):]
    assert len(result.tokens) >= 24 and probs.shape[1] == len(result.tokens)
    np.testing.assert_allclose(probs[0], expected, rtol=0, atol=ATOL)


def test_the_comparison_can_fail(models):
    model = models["rhythm"]["shipped"]
    song = MELODIES["4/4"](model.encoding)
    seq = token_sequence(song, model.encoding)
    memory_weights, echo_weights = fitted_weights(model)
    factors = factors_of(model)
    network = network_distributions(model, seq)
    expected = evaluation_distributions(model, seq, network, memory_weights, echo_weights, factors)
    start, generated = teacher_forced(model, song, 5, 1.0)
    vocab = model.config.vocab_size
    # not uniform, nor close to it: the model is sure of a few tokens at every step
    assert generated.max(-1).min() > 10 / vocab and np.median(generated.max(-1)) > 0.2
    entropy = -(generated * np.log(np.maximum(generated, 1e-300))).sum(-1)
    assert entropy.mean() < 0.5 * np.log(vocab)
    # the distributions follow the tokens fed: the song's tokens after the seed shifted by one differ
    shifted = song.tokens[:start] + song.tokens[start + 1:] + song.tokens[start:start + 1]
    _, other = teacher_forced(model, song, 5, 1.0, tokens=shifted)
    assert np.abs(other - expected[start:]).max() > 0.2
    # a step out of line differs, and so does the evaluation without the calibration accounted for
    assert np.abs(generated[1:] - expected[start:-1]).max() > 0.2
    uncalibrated = evaluation_distributions(model, seq, network, memory_weights, echo_weights)
    assert np.abs(generated - uncalibrated[start:]).max() > 0.01
