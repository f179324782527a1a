import numpy as np
import torch

from melody.generation.originality import (
    ORDER,
    build_index,
    longest_shared_run,
    merge_indexes,
    pack,
    window_hash,
    window_hashes,
)

UP = [60, 62, 64, 65, 67, 69, 71, 72, 74, 76, 77, 79]
DOWN = UP[::-1]
ARPEGGIO = [60, 64, 67, 72, 67, 64, 60, 64, 67, 72, 76, 72]
SONGS, NAMES = [UP, DOWN, ARPEGGIO], ["up.mid", "down.mid", "arpeggio.mid"]


def test_longest_run_and_its_song():
    index = build_index(SONGS, NAMES)
    assert longest_shared_run(index, [30, 31, *UP[1:11], 30]) == (10, "up.mid")
    assert longest_shared_run(index, [*DOWN[:9], 40, 41]) == (9, "down.mid")
    assert longest_shared_run(index, ARPEGGIO) == (12, "arpeggio.mid")


def test_runs_must_come_from_one_song():
    index = build_index(SONGS, NAMES)
    # the first 8 of "up", then notes of "down": the run stops where the song changes
    assert longest_shared_run(index, UP[:8] + DOWN[:8]) == (8, "up.mid")


def test_runs_shorter_than_a_window_read_as_zero():
    index = build_index(SONGS, NAMES)
    assert longest_shared_run(index, UP[:ORDER - 1] + [30]) == (0, None)
    assert longest_shared_run(index, []) == (0, None)


def test_the_index_keeps_many_to_one_hashes_of_8_note_windows_not_notes():
    index = build_index(SONGS, NAMES)
    assert index["order"] == 8 and index["hashes"].dtype == torch.int32
    assert len(index["hashes"]) == len(index["songs"]) == sum(len(s) - ORDER + 1 for s in SONGS)
    assert not set(UP) & set(index["hashes"].tolist())
    # a batch of windows hashes as one window at a time does (the sampler checks candidates in a batch)
    windows = np.lib.stride_tricks.sliding_window_view(np.array(ARPEGGIO), ORDER)
    assert np.array_equal(window_hash(pack(windows)), window_hashes(ARPEGGIO))


def test_merged_index_covers_both_corpora():
    merged = merge_indexes(build_index(SONGS[:1], NAMES[:1]), build_index(SONGS[1:], NAMES[1:]))
    assert merged["names"] == NAMES
    assert longest_shared_run(merged, DOWN[:10]) == (10, "down.mid")
    assert longest_shared_run(merged, UP[2:11]) == (9, "up.mid")
