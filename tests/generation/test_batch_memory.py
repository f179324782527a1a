"""The batched song memory and bar echo give exactly what the one-melody versions give."""
import numpy as np
import pytest

from melody.generation.batch_memory import BatchEcho, BatchMemory
from melody.model.echo import BarEcho, mix_into
from melody.model.memory import SongMemory


def remembered(memory, positions=None):
    """``(k, distributions)``: the memory's proposals as a distribution per melody (zero rows where k is 0)."""
    k, rows, tokens, shares = memory.proposals(positions)
    distributions = np.zeros((len(k), memory.vocab_size))
    distributions[rows, tokens] = shares
    return k, distributions


def tunes(rng, rows, length, vocab):
    """Random melodies made of repeated motifs, so that the memory and the echo have matches."""
    motifs = rng.integers(0, vocab, (4, 6))
    return np.array([np.concatenate([motifs[rng.integers(0, 4)] for _ in range(length // 6 + 1)])[:length]
                     for _ in range(rows)])


@pytest.mark.parametrize("aligned", [False, True])
def test_the_batched_memory_proposes_what_each_melodys_own_memory_proposes(aligned):
    rng = np.random.default_rng(3)
    rows, length, vocab, bar = 5, 60, 12, 16
    tokens = tunes(rng, rows, length, vocab)
    positions = rng.integers(0, 4, (rows, length)) * 4
    weights = np.linspace(0.0, 0.9, 7)  # one per match length 0..6
    batch = BatchMemory(rows, vocab, 6, aligned)
    single = [SongMemory(vocab, 6, aligned) for _ in range(rows)]
    for t in range(length):
        here = positions[:, t] % bar if aligned else [None] * rows
        k, proposed = remembered(batch, positions[:, t] if aligned else None)
        probs = rng.dirichlet(np.ones(vocab), rows)
        mixed = batch.mix(probs, positions[:, t] if aligned else None, weights)
        for r in range(rows):
            k_one, one = single[r].lookup(here[r])
            assert k[r] == k_one
            assert np.allclose(proposed[r], one if k_one else 0.0)
            w = weights[k_one]
            assert np.allclose(mixed[r], (1 - w) * probs[r] + w * (one if k_one else 0.0))
            single[r].add(tokens[r, t], here[r])
        batch.add(tokens[:, t], positions[:, t] if aligned else None)
    assert (k > 0).any()  # the motifs repeat: there was something to remember


def test_the_batched_echo_mixes_in_what_each_melodys_own_echo_mixes_in():
    rng = np.random.default_rng(5)
    rows, length, vocab, bar = 4, 120, 10, 8
    tokens = tunes(rng, rows, length, vocab)
    steps = rng.integers(1, 4, (rows, length))
    onsets = 3 + np.concatenate([np.zeros((rows, 1), dtype=int), np.cumsum(steps, 1)[:, :-1]], 1)
    weights = rng.random(126) * 0.2
    batch = BatchEcho(rows, bar, 1, origin=3, vocab_size=vocab)
    single = [BarEcho(bar, 1) for _ in range(rows)]
    mixed_any = False
    for t in range(length):
        probs = rng.dirichlet(np.ones(vocab), rows)
        together = batch.mix_into(probs.copy(), onsets[:, t], weights)
        for r in range(rows):
            found = single[r].proposals(int(onsets[r, t]))
            mixed_any |= bool(found)
            assert np.allclose(together[r], mix_into(probs[r].copy(), found, weights))
            single[r].add(int(tokens[r, t]), int(onsets[r, t]))
        batch.add(tokens[:, t], onsets[:, t])
    assert mixed_any


def test_reordering_keeps_and_copies_melodies():
    memory = BatchMemory(2, 5, 4, False)
    for step in ([1, 2], [3, 4], [1, 2], [3, 4]):
        memory.add(step)
    memory.reorder(np.array([1, 1, 0]))
    k, proposed = remembered(memory)
    assert list(k) == [2, 2, 2] and proposed[0, 2] == proposed[1, 2] == proposed[2, 1] == 1  # 2 4 2 4: then 2
