"""Training data: the ABC reader for music21's folk songs, the encoding cache, the progress bar."""
import json
from fractions import Fraction

import pytest
from abc_factory import JIG, tune_text, write_abc_files
from midi_factory import write_small_corpus

from melody.data import corpus, parallel
from melody.music.abc_io import read_abc


def notes_of(text):
    """``(onset, duration, pitch)`` of the first tune of ``text``, times in quarter notes."""
    return [(n.onset_qn, n.duration_qn, n.pitch) for n in read_abc(text)[0].notes]


# --- The ABC reader -----------------------------------------------------------------------------

def test_notes_follow_the_default_length_and_key_signature():
    # K:D sharpens every F and C; L:1/8 makes a plain note an eighth (half a quarter note).
    assert notes_of(tune_text("F2 c f/2 =F/2|", meter="4/4", key="D")) == [
        (0, 1, 66), (1, Fraction(1, 2), 73), (Fraction(3, 2), Fraction(1, 4), 78), (Fraction(7, 4), Fraction(1, 4), 65)]


def test_rests_are_gaps_between_notes():
    assert notes_of(tune_text("C2 z2 D2|", meter="3/4")) == [(0, 1, 60), (2, 1, 62)]


def test_tie_between_equal_notes_is_one_note():
    assert notes_of(tune_text("B2-B A|")) == [(0, Fraction(3, 2), 71), (Fraction(3, 2), Fraction(1, 2), 69)]


def test_tie_between_different_notes_keeps_both():
    # O'Neill's collection writes ties between different pitches as phrasing marks.
    assert [p for _, _, p in notes_of(tune_text("G3-A B|"))] == [67, 69, 71]


def test_grace_notes_take_no_time_and_are_left_out():
    assert notes_of(tune_text("{c'}B A|")) == [(0, Fraction(1, 2), 71), (Fraction(1, 2), Fraction(1, 2), 69)]


def test_chord_keeps_highest_note_and_chord_symbols_are_not_notes():
    # "G" is a guitar chord (G3 B3 D4 in music21's Streams): accompaniment, not melody.
    assert notes_of(tune_text('"G"[DGB]2 "D7"C|')) == [(0, 1, 71), (1, Fraction(1, 2), 60)]


def test_triplet_notes_take_two_thirds_of_their_length():
    assert [o for o, _, _ in notes_of(tune_text("(3ABc d|"))] == [0, Fraction(1, 3), Fraction(2, 3), 1]


def test_broken_rhythm_lengthens_the_first_note():
    assert notes_of(tune_text("d>c|")) == [(0, Fraction(3, 4), 74), (Fraction(3, 4), Fraction(1, 4), 72)]


def test_meter_key_and_upbeat_are_read():
    tune = read_abc(tune_text(JIG, meter="6/8", key="Ador"))[0]
    assert tune.meter == (6, 8) and tune.bar_qn == 3
    assert tune.key == "A dorian"
    assert tune.pickup_qn == Fraction(1, 2)  # the "D|" before the first bar line


def test_tunes_come_in_reference_number_order():
    text = tune_text("C|", number=7) + "\n" + tune_text("D|", number=3) + "\n" + tune_text("E|", number=5)
    tunes = read_abc(text)
    assert [t.number for t in tunes] == [3, 5, 7]
    assert [t.notes[0].pitch for t in tunes] == [62, 64, 60]


def test_reader_gives_music21_streams_onsets_and_pitches():
    """Where no tie, grace note or chord symbol is involved, the tokens give what music21's full
    Stream conversion gives."""
    from music21 import converter

    text = tune_text("D|GAB c2d|e2f g3|d>cB (3ABc|[DGB]2 z A2 G|]", key="D")
    stream_notes = [(e.offset, max(p.midi for p in e.pitches)) for e in converter.parse(text, format="abc").flatten().notes]
    assert [(o, p) for o, _, p in notes_of(text)] == stream_notes


# --- The folk corpus: cache entries and their contents --------------------------------------------

@pytest.fixture
def abc_corpus(tmp_path, monkeypatch):
    """Three small ABC files in place of music21's folk corpus, and an empty cache."""
    monkeypatch.setenv("MELODY_CACHE", str(tmp_path / "cache"))
    files = write_abc_files(tmp_path / "abc")
    monkeypatch.setattr(corpus, "folk_corpus_files", lambda: files)
    return files


def test_folk_cache_entry_keeps_note_timing_metre_and_key(abc_corpus, tmp_path):
    songs, skipped = corpus.encode_folk_corpus(workers=1, progress=False)
    assert len(songs) == 12 and not skipped
    assert songs[0].name == "tunes00.abc#1" and songs[0].digest.endswith("-0")
    entries = [json.loads(p.read_text()) for p in (tmp_path / "cache" / "folk").glob("*.json")]
    tune = entries[0]["tunes"][0]
    # In 16ths: the upbeat D, then G A B c2 d | e2 f g3 | ...
    assert tune["onset_steps"][:9] == [0, 2, 4, 6, 8, 12, 14, 18, 20]
    assert tune["duration_steps"][:9] == [2, 2, 2, 2, 4, 2, 4, 2, 6]
    assert tune["pitches"][:4] == [62, 67, 69, 71]
    assert tune["meter"] == [6, 8] and tune["key"] == "G major" and tune["pickup_steps"] == 2
    assert tune["melody"]["tokens"] == list(songs[0].melody.tokens)


def test_folk_encoding_on_two_workers_matches_one(tmp_path, monkeypatch):
    files = write_abc_files(tmp_path / "abc", files=parallel.MIN_JOBS_FOR_POOL)
    monkeypatch.setattr(corpus, "folk_corpus_files", lambda: files)
    one, _ = corpus.encode_folk_corpus(workers=1, cache_dir=None, progress=False)
    two, _ = corpus.encode_folk_corpus(workers=2, cache_dir=None, progress=False)
    assert one == two and len(one) == 4 * len(files)


WRONG_SHAPES = [[], {"melody": {"bogus": 1}}, {"melody": None, "error": None}, {"tunes": [{"bogus": 1}], "error": None},
                {"melody": {"tokens": "abc", "pitches": "abc"}, "error": None}, {"melody": {"tokens": [99], "pitches": [1]},
                                                                                  "error": None}, "text", 3]


@pytest.mark.parametrize("entry", WRONG_SHAPES, ids=[json.dumps(e)[:30] for e in WRONG_SHAPES])
def test_cache_entry_of_the_wrong_shape_is_a_miss(tmp_path, abc_corpus, entry):
    midi = tmp_path / "midi"
    write_small_corpus(midi, repeats=1)
    first = corpus.encode_folder(midi, workers=1, progress=False), corpus.encode_folk_corpus(workers=1, progress=False)
    entries = list((tmp_path / "cache").rglob("*.json"))
    for path in entries:
        path.write_text(json.dumps(entry))
    again = corpus.encode_folder(midi, workers=1, progress=False), corpus.encode_folk_corpus(workers=1, progress=False)
    assert again == first
    assert all(json.loads(p.read_text()) != entry for p in entries)  # encoded again and rewritten


def test_progress_bar_counts_bytes_not_files(tmp_path, monkeypatch):
    """One large file and many small ones: the bar's total is their bytes, so its rate and time
    left follow the work (a file count would call the large file one step)."""
    totals = []

    class Recorder:
        def __init__(self, total, **kwargs):
            totals.append((total, kwargs.get("unit")))
            self.n = 0

        def update(self, n):
            self.n += n

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            totals.append(self.n)

    monkeypatch.setattr(parallel, "tqdm", Recorder)
    files = write_abc_files(tmp_path / "abc", files=3, tunes=1) + write_abc_files(tmp_path / "big", files=1, tunes=50)
    monkeypatch.setattr(corpus, "folk_corpus_files", lambda: files)
    corpus.encode_folk_corpus(workers=1, cache_dir=None, progress=True)
    size = sum(p.stat().st_size for p in files)
    assert totals == [(size, "B"), size]
