import numpy as np
import torch

from melody import generate
from melody.evaluate.evaluation import bits_per_note
from melody.model.memory import SongMemory, fit_weights, memory_predictions, mix


def test_memory_recalls_what_followed_the_longest_context():
    memory = SongMemory(vocab_size=10, max_order=4)
    for token in [1, 2, 3, 4, 9, 1, 2, 3]:
        memory.add(token)
    k, distribution = memory.lookup()
    assert k == 3 and distribution[4] == 1.0  # "1 2 3" was followed by 4


def test_memory_counts_every_continuation():
    memory = SongMemory(vocab_size=10, max_order=2)
    for token in [5, 1, 5, 2, 5, 1, 5]:
        memory.add(token)
    k, distribution = memory.lookup()
    assert k == 2  # "1 5" seen once before, followed by 2
    assert distribution[2] == 1.0
    memory = SongMemory(vocab_size=10, max_order=1)
    for token in [5, 1, 5, 2, 5, 1, 5]:
        memory.add(token)
    assert np.allclose(memory.lookup()[1][[1, 2]], [2 / 3, 1 / 3])


def test_predictions_for_a_whole_song():
    orders, probs = memory_predictions([1, 2, 1, 2, 1, 3], vocab_size=5, max_order=3)
    assert list(orders) == [0, 0, 0, 1, 2, 3]
    assert list(probs) == [0, 0, 0, 1.0, 1.0, 0.0]  # "1" was followed by 2, then "1 2" by 1; 3 breaks it


def test_weights_follow_how_useful_the_memory_is():
    rng = np.random.default_rng(0)
    orders = rng.integers(1, 4, 4000)
    model = np.full(4000, 0.2)
    right = fit_weights(model, np.ones(4000), orders, max_order=3)
    useless = fit_weights(model, np.where(rng.random(4000) < 0.05, 1.0, 0.0), orders, max_order=3)
    assert right[0] == 0 and min(right[1:]) > 0.95 and max(right) <= 0.98
    assert max(useless[1:]) < 0.1
    assert np.allclose(mix(np.array([0.2]), np.array([1.0]), np.array([2]), right), 0.2 * (1 - right[2]) + right[2])


def test_memory_lowers_bits_on_a_repeating_song(tiny_model):
    song = [0, 4, 7, 12, 7, 4, 2, 5, 9] * 8
    without = bits_per_note(tiny_model, [song])
    with torch.no_grad():
        tiny_model.memory_weights.fill_(0.9)
        tiny_model.memory_weights[0] = 0
    assert bits_per_note(tiny_model, [song]) < without / 2
    assert bits_per_note(tiny_model, [song], memory=False) == without


def test_generation_with_full_memory_continues_the_pattern(tiny_model):
    with torch.no_grad():
        tiny_model.memory_weights.fill_(0.999)
        tiny_model.memory_weights[0] = 0
    pattern = [60, 64, 67, 72, 67, 64]
    seed = pattern * 3
    out = generate(tiny_model, seed, 12, temperature=0, rng_seed=1, memory=1.0, repetition_guard=False)[0].pitches
    assert list(out) == pattern * 2
    assert generate(tiny_model, seed, 12, temperature=0, memory=0, repetition_guard=False)[0].pitches != out


def test_weights_from_few_songs_stay_moderate():
    # one match of length 5, and the memory was right: not enough to trust it blindly
    weights = fit_weights(np.array([0.1]), np.array([1.0]), np.array([5]), max_order=6)
    assert 0.3 < weights[5] < 0.6
    assert weights[1] == 0.3  # never seen: the prior
