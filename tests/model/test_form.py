"""The form plan: bars parsed into restatements, the plan fitted on songs, and generation that brings
whole bars back at the planned distance."""
import numpy as np
import pytest
import torch
from small_models import rhythm_model

import melody
from melody.generation.batch_memory import BatchEcho
from melody.generation.plan import BatchPlan
from melody.model import checkpoint as ckpt
from melody.model import form
from melody.music.encoding import RHYTHM, melody_from_text

A, B, C, D = ((0, 1), (4, 2)), ((0, 3),), ((0, 4), (8, 5)), ((0, 6), (2, 7))


def test_bar_contents_groups_what_starts_in_each_bar_from_the_pickup_bar():
    # a pickup at step 12 of a 16-step bar, then a note in each of the next bars, and an empty bar
    contents = form.bar_contents([5, 6, 7, 8], [12, 16, 20, 48], steps_per_bar=16)
    assert contents == [((12, 5),), ((0, 6), (4, 7)), (), ((0, 8),)]
    assert form.bar_contents([5], [12], steps_per_bar=16, bar_offset=4) == [((8, 5),)]


def test_parse_keeps_a_restatement_going_while_it_matches_and_prefers_the_longest_match():
    assert form.parse([A, B, A, B, C, A]) == [0, 0, 2, 2, 0, 3]  # lag 3 and lag 5 match one bar: the nearest
    # bar 4 (A) matches bar 0 for three bars (A B C) and bar 2 for one (A D): lag 4 wins
    assert form.parse([A, B, A, D, A, B, C]) == [0, 0, 2, 0, 4, 4, 0]
    assert form.parse([A, (), ()]) == [0, 0, 0]  # an empty bar starts nothing, even after an empty bar


def sectioned_song(section_bars=4, sections="ABAB"):
    """Bar contents of a song built of sections of distinct bars: I A B A B restates 8 bars back."""
    made = {}
    bars = []
    for name in sections:
        if name not in made:
            made[name] = [((0, 100 + 10 * len(made) + b),) for b in range(section_bars)]
        bars.extend(made[name])
    return bars


def test_fit_plan_learns_where_restatements_start_how_far_back_and_how_long_they_go_on():
    vector = form.fit_plan([sectioned_song(sections="IABAB")] * 6 + [sectioned_song(sections="ABCA")] * 3)
    assert len(vector) == form.SIZE
    start_at_phrase, start_elsewhere = vector[form._START:form._KEEP]
    # of the bars that could start one (the new sections' and their first restatements'), at phrase
    # starts: 1 in 3 (I A B A B, and A B C A); elsewhere never
    assert start_at_phrase == pytest.approx(1 / 3, abs=0.03) and start_elsewhere < 0.05
    lags = vector[form._LAGS:form._TOP]
    assert lags.argmax() == 8 and lags[8] > 5 * lags[1:8].max()  # I A B A B: 8 bars back
    assert vector[form._TOP] > lags[1:8].max()  # A B C A: back to the first bar, 12 bars back
    keep = vector[form._KEEP:form._LAGS].reshape(form._KEEP_SHAPE)
    assert keep[form.keep_index(8, 1, 1)] > 0.8  # once started, a section goes on
    assert vector[form._COPY] == form.COPY_WEIGHT


def plan_vector(lag, start=1.0, keep=1.0, copy=0.99):
    """A plan that always restates ``lag`` bars back, or the first bar when that is ``lag`` bars back
    (or never, with ``start=0``)."""
    vector = np.zeros(form.SIZE)
    vector[form._START:form._KEEP] = start
    vector[form._KEEP:form._LAGS] = keep
    vector[form._LAGS + lag] = 1.0
    vector[form._TOP] = 1e-9
    vector[form._COPY] = copy
    return vector


def test_batch_plan_follows_the_seed_and_decides_each_bar_once():
    plan = BatchPlan(plan_vector(2), rows=2, steps_per_bar=16, first_bar=0, rng=np.random.default_rng(1))
    plan.follow([A, B, A, B, C], whole_bars=4)  # the seed restates 2 bars back in bars 2 and 3; bar 4 is open
    assert list(plan.lag) == [2, 2] and list(plan.run) == [2, 2]
    plan.decide([16 * 4 + 3, 16 * 4])  # bar 4: decided now, going on at 2 bars back (keep = 1)
    assert list(plan.lags_in_steps()) == [32, 32] and list(plan.run) == [3, 3]
    plan.decide([16 * 4 + 8, 16 * 4 + 9])  # the same bar: nothing changes
    assert list(plan.run) == [3, 3]
    plan.decide([16 * 6, 16 * 5])  # a bar skipped (a long note) is decided on the way
    assert list(plan.run) == [5, 4]
    plan.reorder(np.array([1, 1, 0]))
    assert list(plan.run) == [4, 4, 5]


def test_a_seed_that_ends_mid_bar_leaves_that_bar_to_the_plan():
    plan = BatchPlan(plan_vector(2), rows=1, steps_per_bar=16, first_bar=0, rng=np.random.default_rng(1))
    plan.follow([A, B, C, D], whole_bars=3)  # bar 3 is only partly played: still open
    assert list(plan.lag) == [0] and list(plan.current) == [2]
    plan.decide([16 * 3 + 12])
    assert list(plan.lag) == [2]  # it starts (start = 1) at the only lag the plan knows


def test_a_plan_that_never_starts_proposes_nothing():
    plan = BatchPlan(plan_vector(2, start=0.0), rows=3, steps_per_bar=16, first_bar=0,
                          rng=np.random.default_rng(1))
    plan.decide([160, 160, 160])
    assert not plan.lags_in_steps().any()


def test_a_planned_restatement_moves_the_weight_to_the_restated_token_only_where_there_is_one():
    echo = BatchEcho(3, steps_per_bar=4, bar_offset=0, origin=0, vocab_size=4)
    echo.add([2, 3, 1], [0, 0, 0])
    probs = np.full((3, 4), 0.25)
    echo.restate(probs, [4, 4, 4], [4, 0, 8], 0.8)  # a bar back; no plan; two bars back, before the melody
    assert probs[0] == pytest.approx([0.05, 0.05, 0.85, 0.05])
    assert probs[1] == pytest.approx([0.25] * 4) and probs[2] == pytest.approx([0.25] * 4)


def bars_of(run):
    """The bars (onset in the bar, length, pitch) of a generated ``Melody``, from its first whole bar."""
    first = run.notes[0][0] - run.notes[0][0] % 16
    bars = {}
    for onset, steps, pitch in run.notes:
        bars.setdefault((onset - first) // 16, []).append((onset % 16, steps, pitch))
    return [tuple(bars.get(b, ())) for b in range(max(bars) + 1)]


SEED = "C4/4 E4/4 G4/8 F4/8 A4/4 | D4/2 B3/4 C5/4 | E5/8 D5/8 C5/8 A4/8 G4/2 | F4/4 E4/4 D4/4 r/4"


def test_generation_restates_the_seeds_bars_at_the_planned_distance():
    model = rhythm_model()
    seed = melody_from_text(SEED.replace("|", ""), RHYTHM)  # four distinct bars
    runs = melody.generate(model, seed, 40, rng_seed=2, num_variations=3, repetition_guard=False)
    plain = [bars_of(r)[:8] for r in runs]
    with torch.no_grad():
        model.form_plan.copy_(torch.tensor(plan_vector(4)))
    runs = melody.generate(model, seed, 40, rng_seed=2, num_variations=3, repetition_guard=False)
    seed_bars = bars_of(seed)
    for run in runs:
        bars = bars_of(run)[:8]
        assert sum(bar in seed_bars for bar in bars) >= 6  # nearly every bar is a seed bar again, 4 bars on
    assert sum(bar in seed_bars for bars in plain for bar in bars) <= 2  # without the plan: hardly ever
    # memory=0 is the LSTM alone: no plan either
    alone = melody.generate(model, seed, 40, rng_seed=2, num_variations=3, repetition_guard=False, memory=0)
    assert sum(bar in seed_bars for r in alone for bar in bars_of(r)[:8]) <= 2


def test_checkpoints_from_before_the_plan_load_with_the_plan_off(tmp_path):
    model = rhythm_model()
    state = {k: v for k, v in model.state_dict().items() if k != "form_plan"}
    payload = {"model_config": model.config.__dict__, "model_state": state}
    loaded = ckpt.build_model(payload)
    assert not loaded.form_plan.any()
    payload["model_state"] = dict(state, form_plan=torch.ones(3))  # another version's plan: ignored
    assert not ckpt.build_model(payload).form_plan.any()


def test_shipped_default_checkpoint_has_a_fitted_plan():
    model = melody.load_model()
    plan = model.form_plan.numpy()
    assert plan.any() and 0 < plan[form._COPY] <= 1
    assert model.info["metrics"]["generation_fit_data"]
