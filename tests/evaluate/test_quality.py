"""Form and style measures of melodies (melody/quality.py) and the realism classifier (bench/realism.py)."""
import importlib
import math
import sys
from pathlib import Path

import numpy as np
import pytest

from melody.evaluate.quality import (
    contour_histogram,
    duration_histogram,
    features,
    interval_histogram,
    notes_from_pitches,
    notes_per_bar,
    pitch_class_histogram,
    rest_histogram,
    rest_share,
    seed_ngram_share,
    self_repetition,
    stuck_loops,
)

BENCH = Path(__file__).resolve().parents[2] / "bench"
# One bar of 4/4 in 16ths: four eighths, then four 16ths and a quarter... 8 notes filling 16 steps.
PHRASE_DURATIONS = [2, 2, 2, 2, 1, 1, 2, 4]
PHRASE_PITCHES = [60, 62, 64, 65, 67, 69, 71, 72]


def load_realism():
    """bench/realism.py, where the classifiers live (scikit-learn is a test and benchmark dependency only)."""
    if str(BENCH) not in sys.path:
        sys.path.insert(0, str(BENCH))
    return importlib.import_module("realism")


def phrase(start_step, pitches=PHRASE_PITCHES, durations=PHRASE_DURATIONS):
    notes, step = [], start_step
    for pitch, duration in zip(pitches, durations):
        notes.append((step, duration, pitch))
        step += duration
    return notes


def test_phrase_repeated_a_bar_later_is_a_whole_bar_repeat():
    notes = phrase(0) + phrase(16)
    found = self_repetition(notes, window=8)
    assert found.windows == 9
    assert found.pitch_share == pytest.approx(1 / 9)  # only the second bar's window; rotations are new
    assert found.lags_notes.tolist() == [8] and found.lags_steps.tolist() == [16]
    assert found.whole_bar_share == 1.0


def test_repeat_after_a_half_bar_rest_is_not_a_whole_bar_repeat():
    found = self_repetition(phrase(0) + phrase(24), window=8)
    assert found.lags_steps.tolist() == [24]
    assert found.whole_bar_share == 0.0


def test_seed_counts_as_earlier_material():
    found = self_repetition(phrase(16), window=8, context=phrase(0))
    assert found.windows == 1 and found.pitch_share == 1.0 and found.lags_steps.tolist() == [16]
    assert self_repetition(phrase(16), window=8).windows == 1
    assert self_repetition(phrase(16), window=8).pitch_share == 0.0


def test_most_recent_earlier_occurrence_gives_the_lag():
    found = self_repetition(phrase(0) + phrase(16) + phrase(40), window=8)  # the third after a half-bar rest
    assert found.lags_notes.tolist() == [8] * 9
    assert found.lags_steps[-1] == 24  # the third phrase repeats the second (24 steps back), not the first (40)


def test_same_pitches_in_another_rhythm_repeat_pitches_only():
    found = self_repetition(phrase(0) + phrase(16, durations=[1, 3, 2, 2, 2, 2, 1, 3]), window=8)
    assert found.pitch_share == pytest.approx(1 / 9)
    assert found.pitch_duration_share == 0.0


def test_melody_without_repeats_scores_zero():
    found = self_repetition(notes_from_pitches(range(54, 90)), window=8)
    assert found.windows == 29 and found.pitch_share == 0.0 and found.pitch_duration_share == 0.0
    assert len(found.lags_notes) == 0 and math.isnan(found.whole_bar_share)


def test_melody_shorter_than_a_window_has_no_windows():
    found = self_repetition(notes_from_pitches([60, 62, 64]), window=8, context=notes_from_pitches([60, 62, 64]))
    assert found.windows == 0 and found.pitch_share == 0.0


def trill(count, before=(50, 52, 53), after=(55, 57, 59)):
    return notes_from_pitches([*before, *([72, 74] * (count // 2)), *after])


def test_twenty_note_trill_is_a_stuck_loop():
    loops = stuck_loops(trill(20))
    assert loops.stuck
    assert loops.pitch == ((3, 20, 2),)  # starts after the 3 notes before it, 20 notes, period 2
    assert loops.pitch_duration == loops.pitch


def test_twelve_note_trill_is_not_a_stuck_loop():
    assert not stuck_loops(trill(12)).stuck


def test_sixteen_notes_is_where_a_loop_starts():
    assert stuck_loops(trill(16)).pitch == ((3, 16, 2),)
    assert not stuck_loops(trill(14)).stuck
    assert stuck_loops(trill(14), min_notes=14).stuck


def test_trill_in_changing_rhythm_loops_in_pitch_only():
    notes = [(onset, duration, pitch) for (onset, _, pitch), duration in
             zip(trill(20), [1, 2, 3, 1, 1, 2, 4, 2, 1, 3, 2, 2, 1, 4, 1, 1, 3, 2, 2, 1, 2, 3, 1, 2, 1, 1])]
    loops = stuck_loops(notes)
    assert loops.stuck and loops.pitch_duration == ()


def test_repeated_note_and_four_note_figure_are_loops_of_their_period():
    assert stuck_loops(notes_from_pitches([60] * 16)).pitch == ((0, 16, 1),)
    assert stuck_loops(notes_from_pitches([60, 64, 67, 72] * 5)).pitch == ((0, 20, 4),)
    assert not stuck_loops(notes_from_pitches([60, 62, 64, 65, 67] * 5)).stuck  # period 5 is a phrase


def test_eighth_notes_of_the_classic_encoding():
    assert notes_from_pitches([60, 62], start_step=64) == [(64, 2, 60), (66, 2, 62)]
    assert notes_per_bar(notes_from_pitches([60] * 16)) == 8.0
    assert rest_share(notes_from_pitches([60] * 16)) == 0.0


def test_histograms_count_what_they_name():
    notes = notes_from_pitches([60, 64, 62, 62, 81, 48])  # intervals +4, -2, 0, +19 (clipped), -33 (clipped)
    intervals = interval_histogram(notes)
    assert len(intervals) == 25 and intervals.sum() == pytest.approx(1)
    assert intervals[[12 + 4, 12 - 2, 12, 24, 0]] == pytest.approx([0.2] * 5)
    classes = pitch_class_histogram(notes)
    assert [classes[0], classes[2], classes[9]] == pytest.approx([2 / 6, 2 / 6, 1 / 6])
    contour = contour_histogram(notes_from_pitches([60, 62, 64, 65, 67, 69, 67]))  # up x5, then down x1
    assert contour.reshape(3, 4)[2, 3] == 0.5 and contour.reshape(3, 4)[0, 0] == 0.5


def test_rests_and_durations():
    notes = [(0, 4, 60), (4, 2, 62), (8, 1, 64), (25, 3, 65)]  # rests 0, 2 and 16 steps
    assert rest_histogram(notes).tolist() == pytest.approx([1 / 3, 0, 1 / 3, 0, 0, 1 / 3, 0])
    assert duration_histogram(notes).tolist() == pytest.approx([0.25, 0.25, 0.25, 0.25, 0, 0, 0, 0, 0])
    assert rest_share(notes) == pytest.approx(18 / 28)
    assert notes_per_bar(notes) == pytest.approx(4 * 16 / 28)


def test_seed_ngram_share():
    seed = notes_from_pitches([60, 62, 64, 65, 67])
    assert seed_ngram_share(seed, notes_from_pitches([62, 64, 65, 67, 50, 51, 52])) == 0.25
    assert seed_ngram_share(seed, notes_from_pitches([62, 64])) == 0.0


EDGE_CASES = {
    "ordinary": notes_from_pitches([60, 62, 64, 65, 67, 65, 64, 62] * 8, start_step=64),
    "no notes": [],
    "one note": [(64, 2, 60)],
    "two notes": [(64, 2, 60), (66, 2, 60)],
    "long rests": [(64 + 64 * i, 1, 60 + i) for i in range(6)],
    "overlapping": [(64, 8, 60), (66, 8, 62), (66, 1, 64)],
}


@pytest.mark.parametrize("case", EDGE_CASES)
def test_feature_vector_is_finite_and_named(case):
    seed = notes_from_pitches([60, 62, 64, 65] * 8)
    values, names = features(seed, EDGE_CASES[case])
    _, expected = features(seed, EDGE_CASES["ordinary"])
    assert names == expected and len(values) == len(names) == len(set(names))
    assert np.isfinite(values).all()
    assert np.isfinite(features([], EDGE_CASES[case])[0]).all()  # no seed either


def test_features_see_repeats_and_the_seed():
    seed = notes_from_pitches([60, 62, 64, 65, 67, 65, 64, 62] * 4)
    values, names = features(seed, notes_from_pitches([60, 62, 64, 65, 67, 65, 64, 62] * 8, start_step=64))
    got = dict(zip(names, values))
    assert got["repeat8_pitch"] == 1.0 and got["repeat8_whole_bars"] == 1.0 and got["seed_4gram_share"] == 1.0
    assert got["notes_per_bar"] == 8.0 and got["seed_pc_distance"] == 0.0


def test_features_tell_a_loop_from_a_section_coming_back():
    seed = notes_from_pitches(list(range(60, 92)))  # 32 different notes: 4 bars of eighths
    loop = dict(zip(*reversed(features(seed, notes_from_pitches([72, 74] * 16, start_step=64)))))
    section = dict(zip(*reversed(features(seed, notes_from_pitches(list(range(60, 92)), start_step=64)))))
    assert loop["repeat4_within_bar"] == pytest.approx(27 / 29) and loop["repeat4_beyond_4_bars"] == 0.0
    assert loop["stuck"] == 1.0 and loop["longest_loop_share"] == 1.0
    assert section["repeat8_beyond_4_bars"] == 1.0 and section["repeat8_within_bar"] == 0.0
    assert section["stuck"] == 0.0 and section["seed_4gram_share"] == 1.0


def synthetic_set(make_real, make_generated, songs=30, per_song=3, length=64, seed=0):
    """Seeds and continuations of ``songs`` made-up songs: one 'real' and ``per_song`` 'generated' each."""
    rng = np.random.default_rng(seed)
    rows, y, groups = [], [], []
    for song in range(songs):
        seed_notes = notes_from_pitches(make_real(rng, 32))
        for label, make in [(0, make_real)] + [(1, make_generated)] * per_song:
            rows.append(features(seed_notes, notes_from_pitches(make(rng, length), start_step=64))[0])
            y.append(label)
            groups.append(song)
    return np.array(rows), np.array(y), np.array(groups)


def scale_walk(rng, length):
    """Steps up and down the C major scale, mostly by seconds: a tune-like line."""
    scale = [60, 62, 64, 65, 67, 69, 71, 72, 74, 76, 77, 79]
    position = 4 + np.cumsum(rng.choice([-2, -1, -1, 1, 1, 2], size=length))
    return [scale[abs(int(p)) % len(scale)] for p in position]


def random_pitches(rng, length):
    return rng.integers(54, 91, size=length).tolist()


def test_classifiers_tell_random_pitches_from_scale_lines():
    realism = load_realism()
    X, y, groups = synthetic_set(scale_walk, random_pitches)
    for name, scores in realism.cross_validated_accuracy(X, y, groups).items():
        assert np.mean(scores) > 0.95, name


def test_classifiers_cannot_tell_one_generator_from_itself():
    realism = load_realism()
    X, y, groups = synthetic_set(scale_walk, scale_walk)
    for name, scores in realism.cross_validated_accuracy(X, y, groups).items():
        assert 0.35 < np.mean(scores) < 0.65, name


def test_few_songs_mean_fewer_folds():
    realism = load_realism()
    X, y, groups = synthetic_set(scale_walk, random_pitches, songs=3)
    scores = realism.cross_validated_accuracy(X, y, groups, folds=5)
    assert all(len(s) == 3 for s in scores.values())


def test_telling_features_point_at_what_differs():
    realism = load_realism()
    X, y, groups = synthetic_set(scale_walk, random_pitches)
    _, names = features([], [])
    top = realism.telling_features(X, y, names, count=3)
    assert len(top) == 3 and all(f["feature"] in names for f in top)
    assert all(np.sign(f["coefficient"]) == np.sign(f["difference_sd"]) for f in top)
