"""What a user can ask of a continuation beyond the sampling rule: pinned notes, a key and scale,
a seamless loop back into the seed, and a cap on copying from the training songs. This module parses
and checks them (a ``Constraints``); ``melody.generation.smc`` samples under them.

Pitches are in the key frame of the seed given to ``generate`` (the model's key, C major / A minor,
for a seed from ``encode_midi``); the page and the HTTP API take them in the seed's own key and move
them (``in_model_key``).
"""
import re
from dataclasses import dataclass, field, replace

from ..errors import SeedError
from ..music.keys import PITCH_CLASS_NAMES, key_in_c
from ..music.notes import note_name, parse_note, parse_timed_note
from ..settings import LIMITS
from .originality import ORDER, compatible

CURRENT_INDEX = {"order": ORDER, "unit": "pitch-window-hash"}  # what the constrained sampler can search

# Intervals above the tonic, in semitones.
SCALES = {
    "major": (0, 2, 4, 5, 7, 9, 11),
    "minor": (0, 2, 3, 5, 7, 8, 10),
    "harmonic minor": (0, 2, 3, 5, 7, 8, 11),
    "melodic minor": (0, 2, 3, 5, 7, 9, 11),
    "dorian": (0, 2, 3, 5, 7, 9, 10),
    "phrygian": (0, 1, 3, 5, 7, 8, 10),
    "lydian": (0, 2, 4, 6, 7, 9, 11),
    "mixolydian": (0, 2, 4, 5, 7, 9, 10),
    "locrian": (0, 1, 3, 5, 6, 8, 10),
    "major pentatonic": (0, 2, 4, 7, 9),
    "minor pentatonic": (0, 3, 5, 7, 10),
    "blues": (0, 3, 5, 6, 7, 10),
    "major blues": (0, 2, 3, 4, 7, 9),
    "chromatic": tuple(range(12)),
}
ALIASES = {"ionian": "major", "aeolian": "minor", "natural minor": "minor", "pentatonic": "major pentatonic"}
_TONIC = re.compile(r"([A-Ga-g])([#b♯♭]?)\s+(.+)")
MAX_PINS = 64
MAX_TOKENS_PER_NOTE = 4  # with rests, a melody may take a few tokens per note; this bounds a silent one


class Scale(frozenset):
    """Pitch classes with the name they were given by (``Scale({0, 2, 4}).name = "..."``)."""

    name = "the chosen scale"


@dataclass(frozen=True)
class Pin:
    """A note fixed in the continuation: its pitch (MIDI), and with rhythm optionally its length and its
    onset (in 16ths; the onset counts from the seed's end, 0 = right after it)."""

    pitch: int
    steps: int = None
    onset: int = None


def scale_pitch_classes(name, seed_pitches=()):
    """The pitch classes (0 = C) of a scale named like ``"C major"``, ``"A minor"``, ``"D dorian"``,
    ``"C major pentatonic"``, ``"A blues"``; ``"seed"`` is the pitch classes the seed uses (and, in
    :func:`constraints`, ``"key"`` is the seed's key).

    Raises
    ------
    SeedError
        For a name it does not know, saying which names it does.
    """
    text = " ".join(str(name).split())
    if text.lower() == "seed":
        classes = frozenset(int(p) % 12 for p in seed_pitches)
        if not classes:
            raise SeedError("The scale 'seed' takes the seed's notes, and the seed has none.")
        return classes
    match = _TONIC.fullmatch(text)
    kind = ALIASES.get(match.group(3).lower(), match.group(3).lower()) if match else None
    if not match or kind not in SCALES:
        raise SeedError(f"'{text[:40]}' is not a scale this knows: write a tonic and a scale, such as "
                        f"'C major', 'A minor', 'D dorian' or 'A blues' ({', '.join(sorted(SCALES))}), or 'seed'.")
    letter, accidental = match.group(1).upper(), match.group(2).replace("♯", "#").replace("♭", "b")
    tonic = (PITCH_CLASS_NAMES.index(letter) + {"#": 1, "b": -1, "": 0}[accidental]) % 12
    return frozenset((tonic + step) % 12 for step in SCALES[kind])


def parse_pins(text):
    """Pins from text such as ``"15:C5 31:G4/4 40:E4/8@96"``: the note's index in the continuation (0 is
    the first generated note), a colon, and a note as typed (a length is optional), optionally ``@`` and
    its onset in 16ths after the seed's end. Returns ``{index: Pin}``.

    Raises
    ------
    SeedError
        For a word that is not a pin, or a note pinned twice (naming both pins).
    """
    pins, written = {}, {}
    for word in str(text or "").replace(",", " ").split():
        index, colon, note = word.partition(":")
        note, at, onset = note.partition("@")
        if not colon or not re.fullmatch(r"[0-9]{1,5}", index, re.ASCII) or (
                at and not re.fullmatch(r"[0-9]{1,6}", onset, re.ASCII)):
            raise SeedError(f"'{word[:30]}' is not a pin: write the note's number in the continuation, a colon "
                            "and the note, such as 15:C5 or 31:G4/4 (0 is the first generated note; add @32 to "
                            "start it 32 sixteenths after the seed).")
        try:
            pitch, steps = parse_timed_note(note) if "/" in note or "*" in note else (parse_note(note), None)
        except SeedError as error:
            raise SeedError(f"Pin '{word[:30]}': {error}") from None
        if pitch is None:
            raise SeedError(f"'{word[:30]}': a pin is a note, not a rest.")
        if int(index) in pins:
            raise SeedError(f"Note {int(index)} of the continuation is pinned twice ({written[int(index)]} and "
                            f"{word[:30]}): keep one pin for it.")
        pins[int(index)], written[int(index)] = Pin(pitch, steps, int(onset) if at else None), word[:30]
    return pins


@dataclass(frozen=True)
class Constraints:
    """Everything asked of a continuation besides the sampling rule; see ``melody.generate``.

    Attributes
    ----------
    pins : dict
        ``{index of a note in the continuation: Pin}``.
    scale : frozenset or None
        Allowed pitch classes (0 = C); None allows all.
    scale_strength : float
        1 keeps to the scale strictly; below 1 out-of-scale notes keep ``1 - strength`` of their probability.
    loop : bool
        The continuation ends where a bar starts and leads back into the seed's first notes.
    max_copy : int or None
        The longest run of notes that may be the same as in one training song.
    """

    pins: dict = field(default_factory=dict)
    scale: frozenset = None
    scale_strength: float = 1.0
    loop: bool = False
    max_copy: int = None

    @property
    def any(self):
        return bool(self.pins or self.scale is not None or self.loop or self.max_copy is not None)


@dataclass(frozen=True)
class Steering:
    """A steering request as a caller makes it (see ``melody.generate`` for each field): the checks
    that need no seed or model run when it is made (``SeedError``); :meth:`constraints` checks the
    rest against a seed, a model and a length. Pins given as text or pairs are kept as ``Pin``s.
    """

    pins: object = None
    scale: object = None
    loop: bool = False
    max_copy: int = None
    scale_strength: float = LIMITS["scale_strength"].default
    particles: int = None  # candidates the constrained sampler keeps (None: its default)

    def __post_init__(self):
        object.__setattr__(self, "pins", _pins(self.pins) or None)
        if len(self.pins or ()) > MAX_PINS:
            raise SeedError(f"At most {MAX_PINS} pins, got {len(self.pins)}.")
        if not 0 <= float(self.scale_strength) <= 1:
            raise SeedError(f"The scale's strength must be from 0 (off) to 1 (strict), got {self.scale_strength!r}.")
        if self.particles is not None and not (isinstance(self.particles, int) and self.particles >= 1):
            raise SeedError(f"Particles must be a whole number of 1 or more, got {self.particles!r}.")

    def constraints(self, seed=None, model=None, length=None):
        """The checked ``Constraints`` for a continuation of ``length`` notes of ``seed`` by ``model``."""
        return constraints(self.pins, self.scale, self.loop, self.max_copy, self.scale_strength, seed, model, length)


def _pins(pins):
    """Pins as text (``"15:C5 31:G4/4"``) or a dict of pitches, pairs, triples or ``Pin``s: ``{index: Pin}``."""
    return parse_pins(pins) if isinstance(pins, str) else {int(i): _pin(p) for i, p in (pins or {}).items()}


def constraints(pins=None, scale=None, loop=False, max_copy=None, scale_strength=1.0, seed=None, model=None,
                length=None):
    """Check and build ``Constraints`` for a continuation of ``length`` notes of ``seed`` by ``model``.

    ``pins`` is ``{index: pitch}``, ``{index: (pitch, steps)}``, ``{index: Pin}`` or text
    (``"15:C5 31:G4/4"``); ``scale`` a name (see :func:`scale_pitch_classes`) or a set of pitch classes.

    Raises
    ------
    SeedError
        For a constraint that cannot be met, saying why: a pin past the continuation's end or outside
        the model's range, a pinned note outside a strict scale, a copy cap shorter than the
        checkpoint's index can tell, a loop for an empty seed.
    """
    config = getattr(model, "encoding", None)
    pins = _pins(pins)
    if len(pins) > MAX_PINS:
        raise SeedError(f"At most {MAX_PINS} pins, got {len(pins)}.")
    if not 0 <= float(scale_strength) <= 1:
        raise SeedError(f"The scale's strength must be from 0 (off) to 1 (strict), got {scale_strength!r}.")
    if isinstance(scale, (set, frozenset)):  # pitch classes already worked out (moved into the model's key)
        classes, scale = frozenset(int(c) % 12 for c in scale), getattr(scale, "name", "the chosen scale")
    else:
        if isinstance(scale, str) and scale.strip().lower() == "key":  # the seed's key, in the model's frame
            scale = key_in_c(seed.key) if seed is not None and seed.key else "C major"
        classes = scale_pitch_classes(scale, seed.pitches if seed is not None else ()) if scale else None
    for index, pin in sorted(pins.items()):
        _check_pin(index, pin, length, config, classes, scale_strength, scale)
    _check_onsets(pins, config)
    if max_copy is not None:
        max_copy = _check_copy_cap(max_copy, model)
    if loop and seed is not None and not seed.notes:
        raise SeedError("A loop leads back into the seed's first notes: give a seed.")
    return Constraints(pins, classes, float(scale_strength), bool(loop), max_copy)


def _pin(value):
    if isinstance(value, Pin):
        return value
    if isinstance(value, (tuple, list)) and 1 <= len(value) <= 3 and all(
            v is None or (isinstance(v, int) and not isinstance(v, bool)) for v in value) and value[0] is not None:
        steps = value[1] if len(value) > 1 else None
        return Pin(int(value[0]), steps, value[2] if len(value) > 2 else None)
    if isinstance(value, bool) or not isinstance(value, int):
        raise SeedError(f"A pin is a MIDI pitch (or a pitch and a length), got {str(value)[:30]!r}.")
    return Pin(int(value))


def _check_pin(index, pin, length, config, classes, strength, scale):
    where = f"Pin {index}:{note_name(pin.pitch) if 0 <= pin.pitch <= 127 else pin.pitch}"
    if length is not None and not 0 <= index < length:
        raise SeedError(f"{where} is past the continuation: its notes are numbered 0 to {length - 1}.")
    if config is not None and not config.lowest_pitch <= pin.pitch <= config.highest_pitch:
        raise SeedError(f"{where} is outside the model's range ({note_name(config.lowest_pitch)} to "
                        f"{note_name(config.highest_pitch)} in the model's key): pin it an octave up or down.")
    if pin.steps is not None and config is not None and not (config.rhythm and 1 <= pin.steps <= config.max_steps):
        what = f"1 to {config.max_steps} sixteenths" if config.rhythm else "no length (the classic model's notes are all eighths)"
        raise SeedError(f"{where} asks for a length of {pin.steps} sixteenths: this model takes {what}.")
    if classes is not None and strength >= 1 and pin.pitch % 12 not in classes:
        raise SeedError(f"{where} is not in {scale}: no note there could keep to the scale. Pin a note of the "
                        "scale, or make the scale a preference (strength below 1).")


def reach_steps(index, config):
    """The latest onset, in 16ths after the seed, at which note ``index`` of a continuation can start:
    the sampler gives each note at most ``MAX_TOKENS_PER_NOTE`` tokens (rests before it included), each
    at most ``max_steps`` long. A pin later than that could never be met, only searched for."""
    return MAX_TOKENS_PER_NOTE * config.max_steps * (index + 1)


def _check_onsets(pins, config):
    """Pinned onsets must leave room for the notes between them (a 16th each at least), and lie within
    what the continuation can reach (:func:`reach_steps`)."""
    timed = sorted((i, p) for i, p in pins.items() if p.onset is not None)
    if timed and config is not None and not config.rhythm:
        raise SeedError("Pinned onsets need a model with rhythm: the classic model plays every note as an eighth, "
                        "so note N starts N eighths after the seed. Leave out the @.")
    previous = None
    for index, pin in timed:
        if pin.onset < 0:
            raise SeedError(f"Pin {index}: its onset must be 0 or more sixteenths after the seed, got {pin.onset}.")
        needed = index if previous is None else previous[1].onset + (previous[1].steps or 1) + (index - previous[0] - 1)
        if pin.onset < needed:
            raise SeedError(f"Pin {index} starts at sixteenth {pin.onset}, too early for the {index} notes before it "
                            "(a sixteenth each at least, after any earlier pinned note): move it later.")
        if config is not None and pin.onset > reach_steps(index, config):
            raise SeedError(f"Pin {index} starts at sixteenth {pin.onset:,} after the seed, but note {index} of a "
                            f"continuation starts by sixteenth {reach_steps(index, config):,} at the latest: move it "
                            "earlier.")
        previous = (index, pin)


def _check_copy_cap(max_copy, model):
    from ..settings import number

    max_copy = number(max_copy, "max_copy")
    index = (getattr(model, "info", None) or {}).get("originality")
    if model is not None and not index:
        raise SeedError("This checkpoint has no index of its training songs, so copying cannot be capped.")
    if index and not compatible(index, CURRENT_INDEX):  # the sampler hashes windows the current way only
        raise SeedError("This checkpoint's index of its training songs is of an older kind (4-note windows), which "
                        "the copy cap cannot use: train it again, or leave the cap off (copying is still reported).")
    if index and max_copy < index["order"]:
        raise SeedError(f"The copy cap must be at least {index['order']} notes: the checkpoint's index of its training "
                        f"songs holds {index['order']}-note windows (shorter runs are common to many tunes).")
    return max_copy


def in_model_key(seed, pins=None, scale=None):
    """Pins (text or a dict, see :func:`constraints`) and a scale's name given in the seed's own key
    (``"key"``: the seed's key), moved into the model's key: ``(pins or None, pitch classes or None)``.
    The page, the HTTP API and the command line take them this way."""
    pins = _pins(pins)
    moved = {i: replace(pin, pitch=pin.pitch + seed.key_shift) for i, pin in pins.items()}
    classes = None
    if scale:
        own = [p for _, _, p in seed.original_notes()]
        name = seed.key if str(scale).strip().lower() == "key" else scale
        classes = Scale((c + seed.key_shift) % 12 for c in scale_pitch_classes(name, own))
        classes.name = name
    return moved or None, classes


def looped_once_more(seed, continuation):
    """Seed and continuation again, right after the continuation's end: a loop played twice."""
    period = continuation.end_step - seed.start_step
    return [(o + period, s, p) for o, s, p in (*seed.notes, *continuation.notes)]
