from melody.originality import build_index, longest_shared_run

SONGS = [[0, 2, 4, 5, 7, 9, 11, 12], [12, 11, 9, 7, 5, 4, 2, 0], [0, 4, 7, 12, 7, 4, 0, 4]]
NAMES = ["up.mid", "down.mid", "arpeggio.mid"]


def test_longest_run_and_its_song():
    index = build_index(SONGS, NAMES)
    assert longest_shared_run(index, [30, 31, 2, 4, 5, 7, 9, 30]) == (5, "up.mid")
    assert longest_shared_run(index, [9, 7, 5, 4, 2, 0, 4, 7, 12, 7]) == (6, "down.mid")
    assert longest_shared_run(index, SONGS[2]) == (8, "arpeggio.mid")


def test_runs_must_come_from_one_song():
    index = build_index(SONGS, NAMES)
    # 5 7 9 11 comes from "up" and 9 11 ... no song continues it the same way: the run stops at 4
    assert longest_shared_run(index, [5, 7, 9, 11, 30, 20]) == (4, "up.mid")


def test_short_or_absent_runs_read_as_zero():
    index = build_index(SONGS, NAMES)
    assert longest_shared_run(index, [0, 2, 4, 30, 31, 32]) == (0, None)  # 3 notes: below the index's order
    assert longest_shared_run(index, []) == (0, None)


def test_index_keeps_hashes_not_notes():
    index = build_index(SONGS, NAMES)
    assert index["hashes"].dtype.is_floating_point is False
    assert len(index["hashes"]) == len(index["songs"]) == sum(len(s) - 3 for s in SONGS)
    assert not {0, 2, 4, 5, 7, 9, 11, 12} & set(index["hashes"].tolist())


def test_merged_index_covers_both_corpora():
    from melody.originality import merge_indexes

    merged = merge_indexes(build_index(SONGS[:1], NAMES[:1]), build_index(SONGS[1:], NAMES[1:]))
    assert merged["names"] == NAMES
    assert longest_shared_run(merged, [9, 7, 5, 4, 2, 0]) == (6, "down.mid")
    assert longest_shared_run(merged, [0, 2, 4, 5, 7]) == (5, "up.mid")
