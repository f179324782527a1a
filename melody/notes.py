"""The model's vocabulary (37 pitches, MIDI 54 to 90) and note names such as ``C4`` or ``F#3``."""
import re

import pretty_midi

from .errors import SeedError

LOWEST_PITCH = 54  # F#3
HIGHEST_PITCH = 90  # F#6
VOCAB_SIZE = HIGHEST_PITCH - LOWEST_PITCH + 1  # 37 tokens, three octaves

_NAME_RE = re.compile(r"^([A-Ga-g])([#b♯♭]*)(-?\d+)$")
_SPLIT_RE = re.compile(r"[\s,;]+")


def pitch_to_token(pitch):
    """Token index (0..36) of a MIDI pitch inside the vocabulary's range."""
    return pitch - LOWEST_PITCH


def token_to_pitch(token):
    """MIDI pitch of a token index."""
    return token + LOWEST_PITCH


def fold_pitch(pitch, low=LOWEST_PITCH, high=HIGHEST_PITCH):
    """Move ``pitch`` by whole octaves until it lies in ``[low, high]``."""
    while pitch < low:
        pitch += 12
    while pitch > high:
        pitch -= 12
    return pitch


def note_name(pitch):
    """Scientific pitch name of a MIDI number, e.g. ``60 -> 'C4'``, ``66 -> 'F#4'``."""
    return pretty_midi.note_number_to_name(int(pitch))


def parse_note(text):
    """MIDI number of one note given as a name (``C4``, ``Db5``, ``f#3``) or a number (``60``).

    Raises
    ------
    SeedError
        When the text is neither a note name nor a MIDI number from 0 to 127.
    """
    word = text.strip()
    if re.fullmatch(r"\d+", word):
        value = int(word)
        if not 0 <= value <= 127:
            raise SeedError(f"MIDI note number {value} is out of range: use 0 to 127 (60 is middle C).")
        return value
    match = _NAME_RE.match(word)
    if not match:
        raise SeedError(
            f"'{word}' is not a note: write names with an octave such as C4, F#3, Bb4, or MIDI numbers such as 60."
        )
    letter, accidentals, octave = match.groups()
    accidentals = accidentals.replace("♯", "#").replace("♭", "b")
    value = pretty_midi.note_name_to_number(letter.upper() + "4") - 60
    value += accidentals.count("#") - accidentals.count("b") + 12 * (int(octave) + 1)
    if not 0 <= value <= 127:
        raise SeedError(f"'{word}' is outside the MIDI range (C-1 to G9).")
    return value


def parse_notes(text):
    """MIDI numbers of a string of notes separated by spaces or commas: ``"C4 D4 E4"`` or ``"60, 62, 64"``."""
    words = [w for w in _SPLIT_RE.split(text or "") if w]
    return [parse_note(w) for w in words]


def format_notes(pitches):
    """Note names of MIDI numbers, separated by spaces."""
    return " ".join(note_name(p) for p in pitches)
