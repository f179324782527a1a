import numpy as np
import pytest
import torch

from melody import SeedError, generate
from melody.generation.rules import sampling_distribution

SEED = [60, 62, 64, 65, 67]


def greedy(model, seed, length):
    """Arg-max continuation by hand, one forward pass per step."""
    tokens = [p - 54 for p in seed]
    out = []
    for _ in range(length):
        logits, _ = model(torch.tensor([tokens + out]))
        out.append(int(logits[0, -1].argmax()))
    return [t + 54 for t in out]


def pitches(runs):
    return [list(run.pitches) for run in runs]


def test_same_rng_seed_gives_same_result(tiny_model):
    a = pitches(generate(tiny_model, SEED, 40, rng_seed=11, num_variations=3))
    b = pitches(generate(tiny_model, SEED, 40, rng_seed=11, num_variations=3))
    c = pitches(generate(tiny_model, SEED, 40, rng_seed=12, num_variations=3))
    assert a == b
    assert a != c
    assert len(a) == 3 and all(len(v) == 40 for v in a)
    assert len({tuple(v) for v in a}) > 1  # variations differ from each other


@pytest.mark.parametrize("temperature", [0, 1e-4])
def test_temperature_near_zero_equals_argmax(tiny_model, temperature):
    expected = greedy(tiny_model, SEED, 20)
    assert list(generate(tiny_model, SEED, 20, temperature=temperature, rng_seed=1,
                         repetition_guard=False)[0].pitches) == expected


def test_beta_distribution_matches_its_formula():
    logits = np.random.default_rng(0).normal(size=(4, 37)) * 2
    p = np.exp(logits) / np.exp(logits).sum(-1, keepdims=True)
    expected = p**15 / (p**15).sum(-1, keepdims=True)
    assert np.allclose(sampling_distribution(logits, beta=15.0), expected, atol=1e-9)


def test_beta_sampling_frequencies_follow_the_formula(tiny_model):
    n = 6000
    first, probs = generate(tiny_model, SEED, 1, beta=0.5, rng_seed=5, num_variations=n, return_probs=True)
    p = probs[0, 0]
    expected = p**0.5 / (p**0.5).sum()
    counts = np.bincount([v.pitches[0] - 54 for v in first], minlength=37)
    assert np.abs(counts / n - expected).max() < 0.02


def test_top_k_never_leaves_the_top_k(tiny_model):
    runs, probs = generate(tiny_model, SEED, 60, top_k=3, rng_seed=2, num_variations=8, return_probs=True)
    for v, run in enumerate(runs):
        for step, pitch in enumerate(run.pitches):
            top = np.argsort(-probs[v, step])[:3]
            assert pitch - 54 in top


def test_top_p_keeps_the_smallest_set_reaching_p():
    logits = np.log([[0.5, 0.3, 0.15, 0.05]])
    kept = sampling_distribution(logits, top_p=0.75)
    assert np.allclose(kept, [[0.5 / 0.8, 0.3 / 0.8, 0.0, 0.0]])


def test_top_k_of_one_is_the_likeliest_note(tiny_model):
    kept = sampling_distribution(np.log([[0.1, 0.4, 0.2, 0.3], [0.7, 0.1, 0.1, 0.1]]), top_k=1)
    assert np.allclose(kept, [[0, 1, 0, 0], [1, 0, 0, 0]])
    assert pitches(generate(tiny_model, SEED, 12, top_k=1, rng_seed=3)) == \
        pitches(generate(tiny_model, SEED, 12, temperature=0))
    assert pitches(generate(tiny_model, SEED, 4, top_k=10_000, rng_seed=3)) == pitches(generate(tiny_model, SEED, 4,
                                                                                                rng_seed=3))


def test_top_k_keeps_exactly_k():
    kept = sampling_distribution(np.log([[0.1, 0.4, 0.2, 0.3]]), top_k=2)
    assert np.allclose(kept, [[0.0, 0.4 / 0.7, 0.0, 0.3 / 0.7]])


def test_fast_stepper_matches_the_torch_network(tiny_model):
    from melody.generation.stepper import LstmStepper

    tokens = torch.randint(0, 37, (3, 40), generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        expected, _ = tiny_model(tokens)
    stepper = LstmStepper(tiny_model)
    zeros = torch.zeros(1, 3, tiny_model.config.hidden_size)
    run = stepper.start(zeros, zeros)
    got = np.stack([run.step(tokens[:, t].numpy()) for t in range(40)], axis=1)
    assert np.allclose(got, expected.numpy(), atol=1e-4)


def test_the_compiled_step_of_a_plain_read_out_gives_the_softmax_of_its_logits():
    from small_models import stepped

    from melody.model.network import MelodyLSTM, ModelConfig
    from melody.music.encoding import EncodingConfig

    torch.manual_seed(5)
    model = MelodyLSTM(ModelConfig(embedding_size=8, hidden_size=16, num_layers=2, dropout=0.0)).eval()
    model.encoding = EncodingConfig()
    tokens = torch.randint(0, 37, (3, 20), generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        expected, _ = model(tokens)
    logits, probs = stepped(model, tokens)
    assert np.allclose(logits, expected.numpy(), atol=1e-4)
    assert np.allclose(probs, torch.softmax(expected.double(), -1).numpy(), atol=1e-6)


class FixedDraws:
    """A stand-in for a numpy Generator whose uniform draws are given."""

    def __init__(self, draws):
        self.draws = np.asarray(draws, dtype=float)

    def random(self, count):
        assert count == len(self.draws)
        return self.draws


def test_a_draw_picks_the_first_token_whose_cumulative_probability_reaches_it():
    from melody.generation.rules import draw as _choose

    probs = np.array([[0.2, 0.3, 0.5]] * 4 + [[0.3, 0.3, 0.3]])  # the last row's total falls short of its draw
    assert _choose(probs, FixedDraws([0.1, 0.2, 0.25, 0.75, 0.95])).tolist() == [0, 0, 1, 2, 2]


def test_empty_seed_starts_from_the_start_distribution(tiny_model):
    with torch.no_grad():
        tiny_model.start_log_probs.fill_(-1e9)
        tiny_model.start_log_probs[7] = 0.0
    runs = generate(tiny_model, [], 5, rng_seed=0, num_variations=4)
    assert all(run.pitches[0] == 54 + 7 for run in runs)


def test_returned_probabilities_are_distributions(tiny_model):
    _, probs = generate(tiny_model, SEED, 10, rng_seed=0, num_variations=2, return_probs=True)
    assert probs.shape == (2, 10, 37)
    assert np.allclose(probs.sum(-1), 1.0)


def test_seed_outside_range_is_folded(tiny_model):
    low = generate(tiny_model, [36, 38, 40], 10, rng_seed=4)
    same = generate(tiny_model, [60, 62, 64], 10, rng_seed=4)
    assert pitches(low) == pitches(same)


@pytest.mark.parametrize(
    "kwargs, words",
    [
        (dict(length=-1), "Length"),
        (dict(length=10, temperature=-1), "Temperature"),
        (dict(length=10, beta=0), "Beta"),
        (dict(length=10, top_k=0), "top-k"),
        (dict(length=10, top_p=1.5), "top-p"),
        (dict(length=10, num_variations=0), "variations"),
    ],
)
def test_bad_settings_raise_seed_error(tiny_model, kwargs, words):
    with pytest.raises(SeedError, match=words):
        generate(tiny_model, SEED, **kwargs)


def test_bad_seed_note_raises_seed_error(tiny_model):
    with pytest.raises(SeedError, match="0 to 127"):
        generate(tiny_model, [60, 200], 4)
