"""The repetition guard: short loops are broken before they get stuck; phrases may come back."""
import numpy as np
import torch

import melody
from melody.evaluate.quality import notes_from_pitches, stuck_loops
from melody.generation.guard import LONG_COPIES, PHRASE_COPIES, SHORT_LOOP_NOTES, LoopWatch, guard_looping, recent_array


def looping_pitches(histories):
    """What the guard finds for pitch lists, computed afresh (the watch keeps it up to date note by note)."""
    return LoopWatch(recent_array(histories)).looping


def guard(probs, histories, pitch_of_token):
    return guard_looping(probs, looping_pitches(histories), pitch_of_token)
def test_a_trill_is_stopped_before_sixteen_notes_and_a_short_one_is_not():
    trill = [60, 62] * 8  # 16 notes
    assert looping_pitches([trill[:SHORT_LOOP_NOTES]])[0] == 62  # C D ... C: the next D would make 16
    assert looping_pitches([trill[:10]])[0] == -1
    assert looping_pitches([[67] * 15])[0] == 67 and looping_pitches([[67] * 6])[0] == -1


def test_a_phrase_may_come_back_a_few_times():
    motif = [60, 64, 67, 72, 71, 67, 64, 62]
    assert looping_pitches([motif * (LONG_COPIES - 1)])[0] == -1  # a motif stated three times: fine
    assert looping_pitches([motif * LONG_COPIES])[0] == motif[0]  # a fifth time in a row: not
    phrase = [60, 60, 60, 60, 60, 62, 64, 64, 62, 62]  # beta = 15's drone: this, over and over
    assert looping_pitches([phrase * (PHRASE_COPIES - 1)])[0] == -1
    assert looping_pitches([phrase * PHRASE_COPIES])[0] == phrase[0]


def test_the_watch_kept_note_by_note_agrees_with_a_fresh_look():
    rng = np.random.default_rng(0)
    motifs = [[60, 62], [60, 64, 67, 72, 71, 67, 64, 62], [60] * 5 + [62, 64, 64, 62, 62]]
    streams = [motifs[row % 3] for row in range(6)]  # loops of every kind, broken now and then
    watch = LoopWatch(recent_array([[64, 62], [], [60] * 3, [], [61], []]))
    histories = [list(row[row >= 0]) for row in watch.recent]
    looped = set()
    for step in range(120):
        pitches = np.array([-1 if rng.random() < 0.1 else s[step % len(s)] if rng.random() < 0.9 else 65
                            for s in streams])
        watch.add(pitches)
        histories = [h + [p] if p >= 0 else h for h, p in zip(histories, pitches)]
        assert np.array_equal(watch.recent, recent_array(histories))
        assert np.array_equal(watch.looping, looping_pitches(histories))
        looped.update(watch.looping[watch.looping >= 0])
        if step == 60:  # resampling keeps some melodies and copies others
            order = [5, 5, 0, 2, 3, 1]
            watch.reorder(np.array(order))
            streams, histories = [streams[i] for i in order], [histories[i] for i in order]
    assert len(looped) >= 3  # loops of several kinds were caught on the way


def test_guard_moves_probability_off_the_looping_pitch():
    pitch_of_token = np.array([60, 62, 64, -1])
    probs = np.array([[0.7, 0.1, 0.1, 0.1], [0.7, 0.1, 0.1, 0.1]])
    guarded = guard(probs, [[60, 62] * 8, [60, 64, 62]], pitch_of_token)  # only the first melody loops
    assert guarded[0, 0] == 0 and np.isclose(guarded[0].sum(), 1.0)
    assert np.array_equal(guarded[1], probs[1])


def test_sharp_sampling_with_a_strong_memory_no_longer_gets_stuck(tiny_model):
    with torch.no_grad():  # a memory that insists on repeating whatever came before
        tiny_model.memory_weights.fill_(0.99)
        tiny_model.memory_weights[0] = 0
    seed = [60, 62] * 6
    stuck = melody.generate(tiny_model, seed, 64, beta=15, rng_seed=1, num_variations=8, memory=1.0,
                            repetition_guard=False)
    free = melody.generate(tiny_model, seed, 64, beta=15, rng_seed=1, num_variations=8, memory=1.0)
    loops = [stuck_loops(notes_from_pitches(run.pitches)).stuck for run in stuck]
    assert sum(loops) >= 6  # without the guard: stuck
    assert not any(stuck_loops(notes_from_pitches(run.pitches)).stuck for run in free)
