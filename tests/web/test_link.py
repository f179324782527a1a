"""The page's state as a link (melody.web.link, melody.web.events.link_of / settings_of_link): what goes in
comes out, links stay short, and a damaged or hostile link is one clear message."""
import base64
import zlib

import pytest

from melody import SeedError
from melody.serve import playground as pg
from melody.serve.seed_sources import seed_from_link
from melody.web import events
from melody.web.link import DAMAGED, make_link, read_link


def tune(bars, steps=2):
    """``bars`` 4/4 bars of notes ``steps`` sixteenths long, a few rests, a tune-like walk of pitches."""
    notes, pitch = [], 60
    for onset in range(0, 16 * bars, steps):
        if onset % 64 == 62:
            continue  # a rest now and then
        pitch = 55 + (pitch - 55 + (3 if onset % 6 else -5)) % 30
        notes.append((onset, steps, pitch))
    return notes


@pytest.mark.parametrize("meter, position", [((4, 4), 0), ((3, 4), 4), ((6, 8), 3)])
def test_notes_meter_and_settings_come_back_as_they_went(meter, position):
    notes = [(position + o, s, p) for o, s, p in tune(8)]
    settings = {"temperature": 0.7, "rng_seed": 12345678901, "fresh": False, "scale": "D dorian", "checkpoint": "a.pt"}
    back, back_meter, back_position, back_settings = read_link("#" + make_link(notes, meter, position, settings))
    assert back == notes and back_meter == meter and back_position == position
    assert back_settings == settings


def test_settings_at_their_defaults_are_left_out():
    assert read_link(make_link(tune(1), settings={"temperature": 1.0, "length": 64, "pins": ""}))[3] == {"pins": ""}


def test_a_64_bar_tune_fits_in_a_chat_message():
    lengths = {bars: len(make_link(tune(bars))) for bars in (16, 64, 256)}
    assert lengths[64] < 2000, lengths
    assert lengths[16] < lengths[64] < lengths[256]


@pytest.mark.parametrize("text", [
    "", "#", "2abc", "1", "1!!!!", "1" + "A" * 100, "1" + base64.urlsafe_b64encode(b"not zlib").decode(),
    "1" + base64.urlsafe_b64encode(zlib.compress(b"\x04\x04\x00\xff\xff\xff\xff\x7f")).decode(),  # a count too big
    "1" + base64.urlsafe_b64encode(zlib.compress(b"\x04\x03\x00\x01\x00\x02")).decode(),  # a beat of 3
    "1" + base64.urlsafe_b64encode(zlib.compress(b"\x04\x04\x00\x02\x00\x02\x3c")).decode(),  # cut short
    "1" + base64.urlsafe_b64encode(zlib.compress(b"\x04\x04\x00\x01\x00\x02\x3c[1]")).decode(),  # settings not a dict
    "1" + base64.urlsafe_b64encode(zlib.compress(b"\x04\x04\x00\x00" + b" " * 1_000_000)).decode(),  # inflates to 1 MB
    "1" + "A" * 70_000])
def test_a_damaged_or_hostile_link_is_one_message(text):
    with pytest.raises(SeedError) as caught:
        read_link(text)
    assert str(caught.value) == DAMAGED


def test_a_session_becomes_a_link_and_the_link_the_same_seed_and_settings():
    seed = pg.seed_from_notes("3/4 D4/4 F#4/8 A4/8 D5/2 C#5/4 B4/8 r/8 A4/2.")
    text = events.link_of(pg.new_session(seed), {"temperature": 0.5, "fresh": False, "rule": "temperature"})
    notes, meter, _, settings = read_link(text)
    again = seed_from_link(notes, meter)
    assert again.original_notes() == seed.original_notes() and again.time_signature() == (3, 4)
    assert again.key == seed.key
    values, refused = events.settings_of_link({**settings, "length": 10**6, "rule": "x", "checkpoint": "nope.pt",
                                               "scale": 5, "unknown": 1}, ["rhythm.pt"])
    assert values == {"temperature": 0.5, "fresh": False}
    assert sorted(refused) == ["checkpoint", "length", "rule", "scale", "unknown"]


def test_a_link_without_notes_or_with_too_many_is_said():
    with pytest.raises(SeedError, match="holds no notes"):
        seed_from_link([], (4, 4))
    with pytest.raises(SeedError, match="at most 1024 notes"):
        seed_from_link(tune(300), (4, 4))
