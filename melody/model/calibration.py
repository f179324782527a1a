"""The length calibration: free continuations get the real songs' mix of note and rest lengths.

A network trained on real melodies, one token at a time, drifts when it feeds on its own notes: the
shipped rhythm model's continuations had 30% more notes in a bar than the songs' own continuations
(fewer dotted quarters, whole-bar rests and whole notes; more 16th rests), and a realism classifier
found that the plainest sign of a generated melody.

The calibration is one factor per kind of token (a note or a rest of 1 to 16 sixteenths) that
multiplies the network's probabilities while it generates. It is fitted on real songs (the training
songs): their first ``SEED_NOTES`` notes are continued as the user's seed would be, the length mix of
the continuations is compared with that of the songs' own next notes, and each factor is moved by
``(real share / generated share) ** RATE``, for a few rounds. The factors are stored as log-factors
per token in the checkpoint (``MelodyLSTM.length_calibration``; all zeros, as in checkpoints from
before it and in the classic encoding, whose notes are all one length, turn it off). They act on the
network alone: what the song memory, the bar echo and the form plan bring back keeps its lengths.
"""
import time

import numpy as np
import torch

SEED_NOTES = 32
CONTINUATION_NOTES = 256
ROUNDS = 6
RATE = 0.8
SONGS = 60
LIMITS = (0.2, 5.0)  # no kind of token made more than 5 times rarer or likelier


def length_kinds(config):
    """The kind of every token: its length in 16ths minus one for a note, 16 plus that for a rest."""
    pitches, steps = config.token_table()
    return (np.asarray(steps) - 1) + config.length_slots * (np.asarray(pitches) < 0)


def length_mix(token_lists, kinds):
    """How many tokens of each kind the lists hold."""
    counts = np.zeros(int(kinds.max()) + 1)
    for tokens in token_lists:
        np.add.at(counts, kinds[np.asarray(tokens, dtype=np.int64)], 1)
    return counts


def calibration_seeds(songs, config, rng_seed=0):
    """Up to ``SONGS`` ``(seed, its song's next tokens, notes to generate)`` from songs long enough."""
    long_enough = [s for s in songs if len(s.melody) >= 2 * SEED_NOTES]
    chosen = np.random.default_rng(rng_seed).permutation(len(long_enough))[:SONGS]
    seeds = []
    for index in chosen:
        song = long_enough[index].melody
        count = min(CONTINUATION_NOTES, len(song) - SEED_NOTES)
        seeds.append((song.part(0, SEED_NOTES, config), song.part(SEED_NOTES, count, config).tokens, count))
    return seeds


def fit_calibration(model, songs, generate, rounds=ROUNDS, progress=None, deadline=None):
    """Fit the model's length calibration on ``songs`` (see the module) and store it in the model.

    ``generate`` is ``melody.generation.sampling.generate`` (passed in: sampling builds on this package's
    continuation, which reads the calibration). ``progress(round, rounds, distance, songs used,
    songs available)`` follows each round. With a ``deadline`` (``time.monotonic()``), the first round
    continues the songs it reaches in its share of the time (1 / ``rounds``; at least one), and every
    round uses those. Returns the log-factors per token (all zeros for an encoding without lengths,
    or without songs long enough)."""
    config = model.encoding
    model.length_calibration.zero_()
    seeds = calibration_seeds(songs, config) if config.rhythm else []
    available = len(seeds)
    if not seeds:
        return model.length_calibration.numpy().copy()
    kinds = length_kinds(config)
    factors = np.ones(int(kinds.max()) + 1)
    round_end = None if deadline is None else time.monotonic() + (deadline - time.monotonic()) / rounds
    for round_ in range(rounds):
        made = []
        for number, (seed, _, count) in enumerate(seeds):
            if round_ == 0 and number and round_end is not None and time.monotonic() >= round_end:
                seeds = seeds[:number]
                break
            runs = generate(model, seed, count, rng_seed=1000 * round_ + number, num_variations=2)
            made.extend(run.tokens[len(seed.tokens):] for run in runs)
        real = length_mix([tokens for _, tokens, _ in seeds], kinds) + 1
        generated = length_mix(made, kinds) + 1
        factors = np.clip(factors * (real / real.sum() / (generated / generated.sum())) ** RATE, *LIMITS)
        model.length_calibration.copy_(torch.tensor(np.log(factors[kinds])))
        if progress:
            progress(round_ + 1, rounds, mix_distance(real, generated), len(seeds), available)
    return model.length_calibration.numpy().copy()


def mix_distance(a, b):
    """Half the L1 distance between two length mixes (0: the same, 1: nothing in common)."""
    return float(np.abs(a / a.sum() - b / b.sum()).sum() / 2)


def calibrate(probs, factors):
    """``probs`` ``[rows, vocab]`` times the per-token ``factors``, renormalised (a new array)."""
    probs = probs * factors
    return probs / probs.sum(-1, keepdims=True)
