"""Seeds: the start of a tune that the model continues, from typed notes, the drawing grid or part of
a MIDI file's melody, each a ``Melody`` in the chosen model's encoding; and a browser session's
current seed with its Undo history."""
import re

from ..errors import SeedError
from ..music.encoding import RHYTHM, encode_midi, melody_from_notes, melody_from_pitches, melody_from_text
from ..music.notes import (
    COMMON_TIME,
    meter_steps,
    note_name,
    parse_meter,
    parse_note,
    parse_timed_note,
    split_meter,
)
from ..settings import LIMITS, TIME_LIMITS, number
from .sandbox import call_limited

MAX_SEED_NOTES = LIMITS["seed_count"].high
MAX_UNDO = 50
UPLOAD_READ_BYTES = 1 << 30
DEFAULT_SEED_NOTES = "E4 E4 F4 G4 G4 F4 E4 D4 C4 C4 D4 E4 E4 D4 D4"  # Ode to Joy, public domain


def _checked_length(melody):
    if len(melody) > MAX_SEED_NOTES:
        raise SeedError(f"A seed may have at most {MAX_SEED_NOTES} notes, got {len(melody)}.")
    return melody


def seed_from_notes(text, source="typed notes", config=RHYTHM):
    """A seed from typed notes: names or MIDI numbers, with lengths and rests (``"C4/4 D4/8 r/8"``;
    plain ``"C4 D4 E4"`` is eighth notes); key estimated, moved to C, folded into range."""
    return _checked_length(melody_from_text(text, config, source))


_FLAT = re.compile(r"[A-Ga-g][b♭]{1,2}-?[0-9]{1,2}")


def typed_changes(text, seed):
    """What reading typed notes into ``seed`` changed, in words, each with the first case in the text
    (empty when nothing did): notes outside the model's range moved by octaves, flats written as sharps."""
    words = split_meter(text)[1]
    typed = [pitch for pitch, _ in (parse_timed_note(w) for w in words) if pitch is not None]
    said = []
    moved = [(a, b) for a, b in zip(typed, seed.original_pitches()) if a != b]
    if moved:
        a, b = moved[0]
        said.append(f"{len(moved)} note{'s' if len(moved) > 1 else ''} outside the model's range moved by octaves "
                    f"(e.g. {note_name(a)} to {note_name(b)})")
    flat = next((found.group() for found in map(_FLAT.match, words) if found), None)
    if flat:
        said.append(f"flats are written as sharps ({flat} is shown as {note_name(parse_note(flat))})")
    return ("ℹ️ " + "; ".join(said) + ".") if said else ""


def seed_from_pitches(pitches, source="the grid", config=RHYTHM):
    """A seed from MIDI pitches, one eighth note each: key estimated, shifted to C, folded into range."""
    if len(pitches) > MAX_SEED_NOTES:
        raise SeedError(f"A seed may have at most {MAX_SEED_NOTES} notes, got {len(pitches)}.")
    return melody_from_pitches(list(pitches), config, source=source)


GRID_UNIT = 2  # sixteenths per grid column unless the grid says otherwise: eighth notes


def grid_columns(value):
    """``(unit, cells)`` of the drawing grid's value: ``{"unit": 1 or 2, "cells": [...]}`` (sixteenths
    or eighths per column), or a plain list of cells (eighths). A cell is None (nothing starts there),
    a MIDI pitch (a note one column long), ``{"note": pitch, "len": columns}`` or ``{"pin": pitch}``."""
    unit, cells = GRID_UNIT, value
    if isinstance(value, dict):
        unit = value.get("unit") if value.get("unit") in (1, 2) and not isinstance(value.get("unit"), bool) else GRID_UNIT
        cells = value.get("cells")
    return unit, list(cells) if isinstance(cells, (list, tuple)) else []




def grid_meter(value):
    """The meter ``(beats, beat)`` of the grid's value (its ``"meter"``, such as ``[3, 4]``); 4/4 when it
    has none, or one that is not a meter the typed notes could give."""
    meter = value.get("meter") if isinstance(value, dict) else None
    if isinstance(meter, (list, tuple)) and len(meter) == 2 and all(type(n) is int for n in meter):
        try:
            return parse_meter(f"{meter[0]}/{meter[1]}")
        except SeedError:
            pass
    return COMMON_TIME


def _drawn_pitch(item, config):
    """Whether ``item`` is a pitch the grid draws: the model's range (``config``, an ``EncodingConfig``)."""
    return isinstance(item, (int, float)) and not isinstance(item, bool) and \
        config.lowest_pitch <= item <= config.highest_pitch


def grid_notes(value, config=RHYTHM):
    """The notes drawn on the grid, ``(onset, steps, pitch)`` in sixteenths from its first column: a
    note lasts its ``len`` columns (at most until the next one starts); empty columns are rests;
    anything else a browser might send is skipped."""
    unit, cells = grid_columns(value)
    notes = []
    for column, item in enumerate(cells):
        length = 1
        if isinstance(item, dict) and _drawn_pitch(item.get("note"), config):
            item, length = item["note"], item.get("len")
            length = length if isinstance(length, int) and not isinstance(length, bool) and length >= 1 else 1
        if _drawn_pitch(item, config):
            notes.append([column * unit, length * unit, int(item)])
    for note, following in zip(notes, notes[1:]):
        note[1] = min(note[1], following[0] - note[0])
    return [tuple(note) for note in notes]


def grid_value(melody):
    """The grid's value showing ``melody`` (in its own key): its notes where they lie from the start
    of its first bar, in eighth columns when every note and bar starts and ends on one, else
    sixteenths; and its meter unless that is 4/4."""
    notes = melody.original_notes()
    meter = melody.time_signature()
    shown = {} if meter == COMMON_TIME else {"meter": list(meter)}
    if not notes:
        return {"unit": GRID_UNIT, "cells": [], **shown}
    origin = notes[0][0] - melody.bar_position(notes[0][0])
    unit = GRID_UNIT if melody.steps_per_bar % GRID_UNIT == 0 and all(
        (onset - origin) % GRID_UNIT == 0 and steps % GRID_UNIT == 0 for onset, steps, _ in notes) else 1
    cells = [None] * ((notes[-1][0] - origin) // unit + 1)
    for onset, steps, pitch in notes:
        cells[(onset - origin) // unit] = pitch if steps <= unit else {"note": pitch, "len": steps // unit}
    return {"unit": unit, "cells": cells, **shown}


def grid_end(value, config=RHYTHM):
    """The column after the end of the grid's last note (0 for an empty grid)."""
    unit, _ = grid_columns(value)
    notes = grid_notes(value, config)
    return -(-(notes[-1][0] + notes[-1][1]) // unit) if notes else 0


def grid_pins(value, config=RHYTHM):
    """Pins drawn on the grid (entries ``{"pin": pitch}``) as text for ``melody.generation.steering.parse_pins``:
    the column after the last drawn note's end is the continuation's note 0, each column on one more.

    Raises
    ------
    SeedError
        For a pin drawn before the seed's last note ends.
    """
    _, cells = grid_columns(value)
    end = grid_end(value, config)
    pins = []
    for column, item in enumerate(cells):
        pitch = item.get("pin") if isinstance(item, dict) else None
        if type(pitch) is not int or not _drawn_pitch(pitch, config):
            continue
        if column < end:
            raise SeedError(f"The pin at step {column + 1} of the grid lies inside the seed: pins go after its last "
                            "note (the next column is the continuation's first note).")
        pins.append(f"{column - end}:{note_name(pitch)}")
    return " ".join(pins)


def seed_from_grid(value, config=RHYTHM):
    """A seed from the drawing grid's value (see :func:`grid_notes`): with a rhythm encoding the notes
    keep their lengths, the empty columns between them are rests, and the first note keeps its place
    in the bar; the classic encoding plays every note as an eighth."""
    notes = grid_notes(value, config)
    if not notes:
        raise SeedError("The grid is empty: click or drag on it to draw a few notes.")
    if len(notes) > MAX_SEED_NOTES:
        raise SeedError(f"A seed may have at most {MAX_SEED_NOTES} notes, got {len(notes)}.")
    onsets, steps, pitches = zip(*notes)
    meter = grid_meter(value)
    return melody_from_notes(onsets, steps, pitches, config, source="the grid", notes_in_source=len(notes),
                             steps_per_bar=meter_steps(meter), meter=None if meter == COMMON_TIME else meter)


def seed_from_link(notes, meter, config=RHYTHM):
    """A seed from a link's notes ``[(onset, length, pitch), ...]`` (16ths from a bar line, MIDI in the
    tune's own key) and meter (see ``melody.web.link``)."""
    if not notes:
        raise SeedError("This link holds no notes: the page starts as usual.")
    if len(notes) > MAX_SEED_NOTES:
        raise SeedError(f"A seed may have at most {MAX_SEED_NOTES} notes; this link holds {len(notes)}.")
    try:
        steps = meter_steps(tuple(meter))
    except (SeedError, ValueError, ZeroDivisionError):
        raise SeedError(f"This link's meter {meter[0]}/{meter[1]} is not one the page knows.") from None
    onsets, lengths, pitches = zip(*notes)
    return melody_from_notes(onsets, lengths, pitches, config, source="a link", notes_in_source=len(notes),
                             steps_per_bar=steps, meter=None if tuple(meter) == COMMON_TIME else tuple(meter))


def read_upload(path, config=RHYTHM):
    """The ``Melody`` of an uploaded MIDI file in ``config``'s encoding, read in a separate process
    with time and memory limits: the file may be hostile."""
    return call_limited(encode_midi, str(path), config, seconds=TIME_LIMITS.upload_read, memory_bytes=UPLOAD_READ_BYTES)


def seed_part(melody, start=None, count=None, config=RHYTHM):
    """A seed from notes ``start .. start + count`` of a ``Melody`` (defaults: from note 0, 64 notes),
    keeping their places in the bar."""
    start, count = number(start, "seed_start"), number(count, "seed_count")
    if start >= len(melody):
        raise SeedError(f"Start note {start} is past the end: this melody has {len(melody)} notes "
                        f"(0 to {len(melody) - 1}).")
    return melody.part(start, count, config)


def seed_from_midi(path, start=None, count=None, config=RHYTHM):
    """A seed from part of a MIDI file's melody (see :func:`seed_part`), and the whole ``Melody``."""
    melody = read_upload(path, config)
    return seed_part(melody, start, count, config), melody


def continue_from(seed, continuation, config=RHYTHM):
    """The seed for a Continue click: the old seed followed by a result (its last notes if too long)."""
    longer = seed.then(continuation, config)
    return longer.part(max(0, len(longer) - MAX_SEED_NOTES), MAX_SEED_NOTES, config) if len(longer) > MAX_SEED_NOTES \
        else longer


def new_session(seed):
    """A browser session's state: the current seed, the seeds before it (for Undo), the last results,
    ``problem``: why the seed being edited cannot be used (an empty grid, a typing mistake), or None,
    and ``shown``: how many result groups the page shows."""
    return {"seed": seed, "history": [], "results": [], "problem": None, "shown": 1}


def with_problem(session, problem):
    """The session with the seed being edited unusable, and why: Generate says so instead of
    continuing an older seed."""
    return dict(session, problem=problem)


def usable_seed(session):
    """The session's current seed; raises ``SeedError`` when the seed being edited cannot be used."""
    if session.get("problem"):
        raise SeedError(session["problem"])
    return session["seed"]


def with_seed(session, seed, live=False):
    """The session with a new current seed; the old one goes on the Undo stack, unless ``live``
    edits (drawing, typing) replace a seed from the same place, so Undo skips every keystroke."""
    if live and session["seed"].source == seed.source:
        return dict(session, seed=seed, problem=None)
    history = (session["history"] + [session["seed"]])[-MAX_UNDO:]
    return dict(session, seed=seed, history=history, problem=None)


def undo_seed(session):
    """The session with its previous seed back; raises ``SeedError`` when there is none."""
    if not session["history"]:
        raise SeedError("Nothing to undo: this is the first seed of this session.")
    return dict(session, seed=session["history"][-1], history=session["history"][:-1], problem=None)
