"""Notes as people write them: names such as ``C4`` or ``F#3``, with lengths such as ``C4/8`` (an
eighth), ``E4/4.`` (a dotted quarter), ``r/4`` (a quarter rest) or ``G4*5`` (five 16ths), after an
optional meter (``3/4 A4/4 C5/2 ...``); and the classic encoding's vocabulary (37 pitches, MIDI 54 to 90)."""
import re

import pretty_midi

from ..errors import SeedError

LOWEST_PITCH = 54  # F#3
HIGHEST_PITCH = 90  # F#6
VOCAB_SIZE = HIGHEST_PITCH - LOWEST_PITCH + 1  # 37 tokens, three octaves

_NAME_RE = re.compile(r"([A-Ga-g])([#b♯♭]{0,2})(-?[0-9]{1,2})", re.ASCII)
_NUMBER_RE = re.compile(r"[0-9]{1,3}", re.ASCII)  # ASCII only: \d would take Arabic-Indic digits too
_SPLIT_RE = re.compile(r"[\s,;]+")
_LENGTH_RE = re.compile(r"(.+?)(?:/([0-9]{1,2})(\.?)|\*([0-9]{1,2}))?", re.ASCII)
MAX_TEXT_CHARS = 16_384  # typed notes: about 1,024 notes with lengths; checked before any parsing
MAX_WORD_SHOWN = 24
STEPS_PER_WHOLE = 16  # lengths are counted in 16th notes ("steps"), the grid melodies live on
DEFAULT_STEPS = 2  # a note written without a length is an eighth note, as the classic encoding plays it
MAX_STEPS = 64  # the longest single note or rest that can be typed: four 4/4 bars
REST_WORDS = {"r", "R"}
# A meter leads typed notes: "3/4", "6/8". It reads like a MIDI number with a length, so a first word
# N/D with N up to this is a meter, never a note (MIDI 1 to 16 lies far below any melody).
_METER_RE = re.compile(r"([0-9]{1,2})/([0-9]{1,2})", re.ASCII)
MAX_METER_BEATS = 16
COMMON_TIME = (4, 4)


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
    if _NUMBER_RE.fullmatch(word):
        value = int(word)
        if not 0 <= value <= 127:
            raise SeedError(f"MIDI note number {value} is out of range: use 0 to 127 (60 is middle C).")
        return value
    match = _NAME_RE.fullmatch(word)
    if not match:
        raise SeedError(f"'{_shown(word)}' is not a note: write names with an octave such as C4, F#3, Bb4, or MIDI "
                        "numbers such as 60; r is a rest; add a length such as /4 (quarter) or /8. (dotted eighth).")
    letter, accidentals, octave = match.groups()
    accidentals = accidentals.replace("♯", "#").replace("♭", "b")
    value = pretty_midi.note_name_to_number(letter.upper() + "4") - 60
    value += accidentals.count("#") - accidentals.count("b") + 12 * (int(octave) + 1)
    if not 0 <= value <= 127:
        raise SeedError(f"'{word}' is outside the MIDI range (C-1 to G9).")
    return value


def parse_notes(text):
    """MIDI numbers of a string of notes separated by spaces or commas: ``"C4 D4 E4"`` or ``"60, 62, 64"``.

    Raises
    ------
    SeedError
        For a word that is not a note, or a text longer than ``MAX_TEXT_CHARS`` (refused before it is
        read, so that a huge text costs nothing).
    """
    words = [w for w in _SPLIT_RE.split(_checked_text(text)) if w]
    return [parse_note(w) for w in words]


def format_notes(pitches):
    """Note names of MIDI numbers, separated by spaces."""
    return " ".join(note_name(p) for p in pitches)


def _shown(word):
    return word if len(word) <= MAX_WORD_SHOWN else word[:MAX_WORD_SHOWN] + "..."


def parse_timed_note(word):
    """``(pitch, steps)`` of one written note or rest: pitch a MIDI number, or None for a rest
    (``r``); steps its length in 16ths. ``C4`` is an eighth (2 steps), ``C4/4`` a quarter (4),
    ``C4/4.`` a dotted quarter (6), ``C4/16`` a sixteenth (1), ``C4*5`` five sixteenths.

    Raises
    ------
    SeedError
        When the word is not a note or rest, or its length is not a whole number of 16ths up to
        ``MAX_STEPS``.
    """
    match = _LENGTH_RE.fullmatch(word.strip())
    name, value, dot, count = match.groups()
    pitch = None if name in REST_WORDS else parse_note(name)
    if value is not None:
        value = int(value)
        if value not in (1, 2, 4, 8, 16):
            raise SeedError(f"'{_shown(word)}' has a length /{value}: use /1 (whole), /2, /4, /8 or /16 "
                            "(sixteenth), with a dot for dotted notes, or *N for N sixteenths.")
        steps = STEPS_PER_WHOLE // value
        if dot:
            if steps % 2:
                raise SeedError(f"'{_shown(word)}': a dotted sixteenth is shorter than the 16th-note grid.")
            steps += steps // 2
    else:
        steps = int(count) if count is not None else DEFAULT_STEPS
    if not 1 <= steps <= MAX_STEPS:
        raise SeedError(f"'{_shown(word)}' lasts {steps} sixteenths: use 1 to {MAX_STEPS}.")
    return pitch, steps


def _checked_text(text):
    text = text or ""
    if not isinstance(text, str):
        raise SeedError(f"Notes must be text such as 'C4 D4 E4', got a {type(text).__name__}.")
    if len(text) > MAX_TEXT_CHARS:
        raise SeedError(f"The notes text is too long ({len(text):,} characters): at most {MAX_TEXT_CHARS:,} "
                        "characters, about 1,000 notes. Use a MIDI file for a longer seed.")
    return text


def _is_meter(word):
    match = _METER_RE.fullmatch(word)
    return bool(match) and 1 <= int(match.group(1)) <= MAX_METER_BEATS


def meter_steps(meter):
    """Sixteenths in a bar of ``meter`` ``(beats, beat)``: ``(3, 4) -> 12``, ``(6, 8) -> 12``, ``(4, 4) -> 16``."""
    return meter[0] * STEPS_PER_WHOLE // meter[1]


def parse_meter(word):
    """``(beats, beat)`` of a written meter such as ``"3/4"`` or ``"6/8"``.

    Raises
    ------
    SeedError
        When the beat is not 1, 2, 4, 8 or 16, or a bar would not be a whole number of 1 to
        ``MAX_STEPS`` sixteenths.
    """
    beats, beat = (int(n) for n in _METER_RE.fullmatch(word).groups())
    if beat not in (1, 2, 4, 8, 16) or not 1 <= beats * STEPS_PER_WHOLE / beat <= MAX_STEPS:
        raise SeedError(f"'{word}' is not a meter this can play: write the beats in a bar, a slash and the beat, such "
                        f"as 3/4, 6/8 or 2/2 (a beat of 1, 2, 4, 8 or 16; a bar of at most {MAX_STEPS} sixteenths).")
    return beats, beat


def split_meter(text):
    """``(meter or None, words)`` of typed notes: the meter ``(beats, beat)`` they start with (``"3/4
    A4/4 C5/2"``), and the words of the notes and rests. A text longer than ``MAX_TEXT_CHARS`` is
    refused before it is read.

    Raises
    ------
    SeedError
        For a meter that is not one (see :func:`parse_meter`), or one after the first note.
    """
    words = [w for w in _SPLIT_RE.split(_checked_text(text)) if w]
    meter = parse_meter(words.pop(0)) if words and _is_meter(words[0]) else None
    for word in words:
        if _is_meter(word):
            raise SeedError(f"'{word}' looks like a meter: a meter such as 3/4 goes before the first note.")
    return meter, words


def parse_timed_notes(text):
    """``[(pitch or None, steps), ...]`` of a text of notes and rests separated by spaces or commas,
    e.g. ``"C4/8 D4/8 E4/4 r/4 G4/2"``; plain ``"C4 D4 E4"`` is eighth notes. See
    :func:`parse_timed_note`; a leading meter (``"3/4 ..."``) is read by :func:`split_meter` and left
    out here. A text longer than ``MAX_TEXT_CHARS`` is refused before it is read."""
    return [parse_timed_note(w) for w in split_meter(text)[1]]


def length_text(steps):
    """How a length in 16ths is written: ``/4`` (4 steps), ``/8.`` (3), ``*5`` (5)."""
    for value in (1, 2, 4, 8, 16):
        plain = STEPS_PER_WHOLE // value
        if steps == plain:
            return f"/{value}"
        if plain % 2 == 0 and steps == plain + plain // 2:
            return f"/{value}."
    return f"*{steps}"


def format_timed_notes(items, meter=None):
    """The text of ``[(pitch or None, steps), ...]``, which :func:`parse_timed_notes` reads back (an
    eighth, the default length, is written without one: ``C4``), after its meter unless that is 4/4."""
    words = [f"{meter[0]}/{meter[1]}"] if meter and tuple(meter) != COMMON_TIME else []
    return " ".join(words + [("r" if pitch is None else note_name(pitch))
                             + ("" if steps == DEFAULT_STEPS else length_text(steps)) for pitch, steps in items])
