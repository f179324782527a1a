"""The bar echo: what started a whole number of bars ago comes back, with fitted weights."""
import numpy as np
import torch
from small_models import rhythm_model

import melody
from melody.model.echo import CATEGORIES, FROM_THE_TOP, BarEcho, category, echo_predictions, fit_echo, mix_echo
from melody.music.encoding import RHYTHM, melody_from_text


def test_every_lag_proposes_what_started_that_many_bars_earlier_and_counts_how_long_it_has_matched():
    echo = BarEcho(steps_per_bar=8)
    for onset, token in [(0, 5), (2, 6), (4, 7), (8, 5), (10, 6)]:
        echo.add(token, onset)
    # one bar back, with 2 tokens matched so far; and "from the top" (here also one bar back)
    assert echo.proposals(12) == [(category(0, 2, bar_start=False), 7), (category(FROM_THE_TOP, 2, False), 7)]
    assert echo.proposals(14) == []  # nothing started at step 6
    assert echo.proposals(16)[:2] == [(category(0, 2, True), 5), (category(1, 0, True), 5)]  # 1 and 2 bars back


def test_echo_predictions_and_fitted_weights_follow_a_repeating_song():
    bar = [3, 4, 5, 6]
    tokens = bar * 12
    onsets = list(range(0, 4 * len(tokens), 4))  # quarter notes, 4 per 16-step bar
    categories, hits = echo_predictions(tokens, onsets, steps_per_bar=16)
    assert (categories[:4] == -1).all() and hits[4:, 0].all()  # every token after the first bar is echoed
    weights = fit_echo(np.full(len(tokens), 0.05), categories, hits)
    assert len(weights) == CATEGORIES and max(weights) > 0.2  # several lags share the credit
    mixed = mix_echo(np.full(len(tokens), 0.05), categories, hits, weights)
    assert mixed[8:].mean() > 0.6 and np.allclose(mixed[:4], 0.05)  # from 0.05


def test_generation_with_a_strong_echo_restates_the_seeds_bars():
    model = rhythm_model()
    with torch.no_grad():
        model.echo_weights.fill_(0.95)
    seed = melody_from_text("C4/4 E4/4 G4/8 F4/8 E4/4 " * 2, RHYTHM)
    run = melody.generate(model, seed, 10, rng_seed=1, memory=1.0, repetition_guard=False)[0]
    bar = [(o - 16, s, p) for o, s, p in run.notes[:5]]
    assert bar == list(seed.notes[5:])  # the next bar is the seed's bar again, lengths and all
