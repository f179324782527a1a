import pytest

from melody.errors import SeedError
from melody.music.notes import format_notes, parse_notes


def test_parse_names_and_numbers():
    assert parse_notes("C4 D4 E4 G4") == [60, 62, 64, 67]
    assert parse_notes("60, 62,64 67") == [60, 62, 64, 67]
    assert parse_notes("f#3 Bb4 c-1 G9") == [54, 70, 0, 127]


def test_parse_empty_is_empty():
    assert parse_notes("  ") == []


@pytest.mark.parametrize("text, words", [("H4", "H4"), ("C", "octave"), ("128", "0 to 127"), ("G#9", "outside")])
def test_parse_rejects_bad_notes_with_a_readable_message(text, words):
    with pytest.raises(SeedError, match=words):
        parse_notes(text)


def test_format_notes_round_trips():
    assert parse_notes(format_notes([54, 60, 61, 90])) == [54, 60, 61, 90]
