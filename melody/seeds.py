"""Seeds: the start of a tune that the model continues, from typed notes, the drawing grid or part
of a MIDI file's melody; and a browser session's current seed with its Undo history."""
from dataclasses import dataclass, replace

from .encoding import encode_midi, melody_from_pitches
from .errors import SeedError
from .notes import HIGHEST_PITCH, LOWEST_PITCH, format_notes, parse_notes
from .sandbox import call_limited
from .settings import LIMITS, number

MAX_SEED_NOTES = LIMITS["seed_count"].high
MAX_UNDO = 50
UPLOAD_READ_SECONDS = 20.0
UPLOAD_READ_BYTES = 1 << 30
DEFAULT_SEED_NOTES = "E4 E4 F4 G4 G4 F4 E4 D4 C4 C4 D4 E4 E4 D4 D4"  # Ode to Joy, public domain


@dataclass(frozen=True)
class Seed:
    """A seed as the model sees it (``pitches`` in C major / A minor, MIDI 54..90), with the
    shift that took it there and where it came from."""

    pitches: tuple
    key_shift: int = 0
    key: str = "C major"
    tempo_bpm: float = 120.0
    source: str = "typed notes"

    def original_pitches(self):
        """The seed in its own key."""
        return [p - self.key_shift for p in self.pitches]

    def describe(self):
        shift = f", played by the model {self.key_shift:+d} semitones in C" if self.key_shift else ""
        return f"{len(self.pitches)} notes from {self.source} ({self.key}{shift}): {format_notes(self.original_pitches())}"


def seed_from_notes(text, source="typed notes"):
    """A seed from note names or MIDI numbers (``"C4 D4 E4"``, ``"60 62 64"``)."""
    pitches = parse_notes(text)
    if not pitches:
        raise SeedError("The seed is empty: type notes such as C4 D4 E4 G4, or 60 62 64 67.")
    return seed_from_pitches(pitches, source)


def seed_from_pitches(pitches, source="the grid"):
    """A seed from MIDI pitches: key estimated, shifted to C, folded into MIDI 54..90."""
    if len(pitches) > MAX_SEED_NOTES:
        raise SeedError(f"A seed may have at most {MAX_SEED_NOTES} notes, got {len(pitches)}.")
    melody = melody_from_pitches(list(pitches), source=source)
    return Seed(tuple(melody.pitches), melody.key_shift, melody.key, 120.0, source)


def grid_pitches(value):
    """The notes of the drawing grid's value (one MIDI pitch or None per step): empty steps and
    anything else a browser might send are skipped."""
    items = value if isinstance(value, (list, tuple)) else []
    return [int(p) for p in items if isinstance(p, (int, float)) and not isinstance(p, bool)
            and LOWEST_PITCH <= p <= HIGHEST_PITCH]


def seed_from_grid(value):
    """A seed from the drawing grid's value; see :func:`grid_pitches`."""
    pitches = grid_pitches(value)
    if not pitches:
        raise SeedError("The grid is empty: click or drag on it to draw a few notes.")
    return seed_from_pitches(pitches, "the grid")


def read_upload(path):
    """The ``Melody`` of an uploaded MIDI file, read in a separate process with time and memory
    limits: the file may be hostile."""
    return call_limited(encode_midi, str(path), seconds=UPLOAD_READ_SECONDS, memory_bytes=UPLOAD_READ_BYTES)


def seed_part(melody, start=None, count=None):
    """A seed from notes ``start .. start + count`` of a ``Melody`` (defaults: from note 0, 64 notes)."""
    start, count = number(start, "seed_start"), number(count, "seed_count")
    if start >= len(melody):
        raise SeedError(f"Start note {start} is past the end: this melody has {len(melody)} notes "
                        f"(0 to {len(melody) - 1}).")
    pitches = melody.pitches[start : start + count]
    source = f"{melody.source} (notes {start}-{start + len(pitches) - 1})"
    return Seed(tuple(pitches), melody.key_shift, melody.key, melody.tempo_bpm, source)


def seed_from_midi(path, start=None, count=None):
    """A seed from part of a MIDI file's melody (see :func:`seed_part`), and the whole ``Melody``."""
    melody = read_upload(path)
    return seed_part(melody, start, count), melody


def continue_from(seed, continuation):
    """The seed for a Continue click: the old seed followed by a result (the last notes if too long)."""
    pitches = (tuple(seed.pitches) + tuple(continuation))[-MAX_SEED_NOTES:]
    return replace(seed, pitches=pitches, source="a continued result")


def new_session(seed):
    """A browser session's state: the current seed, the seeds before it (for Undo) and the last results."""
    return {"seed": seed, "history": [], "results": []}


def with_seed(session, seed, live=False):
    """The session with a new current seed; the old one goes on the Undo stack, unless ``live``
    edits (drawing, typing) replace a seed from the same place, so Undo skips every keystroke."""
    if live and session["seed"].source == seed.source:
        return dict(session, seed=seed)
    history = (session["history"] + [session["seed"]])[-MAX_UNDO:]
    return dict(session, seed=seed, history=history)


def undo_seed(session):
    """The session with its previous seed back; raises ``SeedError`` when there is none."""
    if not session["history"]:
        raise SeedError("Nothing to undo: this is the first seed of this session.")
    return dict(session, seed=session["history"][-1], history=session["history"][:-1])
