"""What a Generate request may ask for: the range and default of every setting, in one place, and
the checks that turn untrusted values (from the page, the HTTP API or the command line) into
``Settings`` or a ``SeedError`` that names the setting.

Values from the HTTP API arrive as JSON: numbers may come as strings, ``NaN``, booleans or text of
any length, so every check here refuses what is not plainly a number (ASCII digits only: ``int()``
would accept Arabic-Indic digits and take seconds on a 100,000-digit string) before converting it.
"""
import math
import os
import random
import re
from dataclasses import dataclass, fields, replace

from .errors import SeedError

_INTEGER = re.compile(r"[+-]?[0-9]{1,30}", re.ASCII)
_REAL = re.compile(r"[+-]?([0-9]{1,30}(\.[0-9]{0,30})?|\.[0-9]{1,30})([eE][+-]?[0-9]{1,3})?", re.ASCII)
_TRUE, _FALSE = {"true", "yes", "on", "1"}, {"false", "no", "off", "0"}
MAX_SHOWN = 40  # characters of a refused value repeated in a message


@dataclass(frozen=True)
class Limit:
    """Range and default of one setting: what the page's controls, the API and the checks use."""

    what: str  # how messages name it
    low: float
    high: float
    default: object
    step: float = 1
    integer: bool = False
    slider_high: float = None  # the page's slider stops here when the whole range would be unwieldy
    library: tuple = None  # (low, high) that Python callers of melody.generate may ask for, when wider

    @property
    def library_range(self):
        """``(low, high)`` for Python callers: ``library``, or the same range as everywhere."""
        return self.library or (self.low, self.high)


LIMITS = {
    "length": Limit("Length (notes to generate)", 1, 512, 64, integer=True, library=(0, 4096)),
    "temperature": Limit("Temperature", 0.0, 2.0, 1.0, 0.05),
    "beta": Limit("Beta (the softmax base)", 0.5, 30.0, None, 0.5),
    "top_k": Limit("top-k", 0, 1024, None, integer=True, slider_high=64),  # 0 or None: off
    "top_p": Limit("top-p", 0.05, 1.0, None, 0.05),  # 1 or None: off
    "memory": Limit("Song memory", 0.0, 1.0, 1.0, 0.05),
    "rng_seed": Limit("Random seed", 0, 2**63 - 1, None, integer=True),  # None: a new one each time
    "tempo_bpm": Limit("Tempo (BPM)", 30, 300, 120.0),
    "program": Limit("Instrument (General MIDI program)", 0, 127, 0, integer=True),
    "variations": Limit("Variations", 1, 4, 1, integer=True, library=(1, 8192)),
    "variations_cli": Limit("--num-outputs", 1, 256, 1, integer=True),
    "seed_start": Limit("Start at note", 0, 10**9, 0, integer=True),
    "seed_count": Limit("Number of notes", 1, 1024, 64, integer=True),
    # None (0 on the page): off. The page's slider offers this whole range (and 0), as the server and CLI take it.
    "max_copy": Limit("Copy cap (notes in a row from a training song)", 8, 1024, None, integer=True),
    "scale_strength": Limit("Scale strength", 0.0, 1.0, 1.0, 0.05),
    "start_bar": Limit("start_bar (the first bar to regenerate, 0 = the tune's first)", 0, 4096, 0, integer=True),
    "end_bar": Limit("end_bar (the bar after the last one to regenerate)", 1, 4096, 1, integer=True),
}
BETA_SUGGESTED = 15.0  # the page's beta slider starts where the original write-up was


def shown(value):
    """``repr`` of a refused value, cut to ``MAX_SHOWN`` characters so messages and logs stay short."""
    text = repr(value)
    return text if len(text) <= MAX_SHOWN else text[:MAX_SHOWN] + f"... ({len(text)} characters)"


def _out_of_range(name, value):
    limit = LIMITS[name]
    if limit.integer:
        span = f"a whole number from {int(limit.low):,} to {int(limit.high):,}"
    else:
        span = f"a number from {limit.low:g} to {limit.high:g}"
    return SeedError(f"{limit.what} must be {span}, got {shown(value)}.")


def number(value, name, allow_none=True):
    """``value`` as an int (for whole-number settings) or a float, inside the setting's range.

    Accepts ints, finite floats and strings of ASCII digits; ``None`` and ``""`` give the default
    when ``allow_none``. Raises ``SeedError`` naming the setting for anything else.
    """
    limit = LIMITS[name]
    if value is None or (isinstance(value, str) and not value.strip()):
        if allow_none:
            return limit.default
        raise _out_of_range(name, value)
    if isinstance(value, bool):
        raise _out_of_range(name, value)
    if isinstance(value, str):
        text = value.strip()
        if not (_INTEGER if limit.integer else _REAL).fullmatch(text):
            if limit.integer and _REAL.fullmatch(text) and float(text).is_integer():
                text = str(int(float(text)))
            else:
                raise _out_of_range(name, value)
        value = int(text) if limit.integer else float(text)
    if not isinstance(value, (int, float)) or (isinstance(value, float) and not math.isfinite(value)):
        raise _out_of_range(name, value)
    if limit.integer:
        if isinstance(value, float) and not value.is_integer():
            raise _out_of_range(name, value)
        value = int(value)
    if not limit.low <= value <= limit.high:
        raise _out_of_range(name, value)
    return value if limit.integer else float(value)


@dataclass(frozen=True)
class TimeLimits:
    """How long the server lets things take, in seconds. Each can be set with an environment variable
    named ``MELODY_`` and the field's name in capitals plus ``_SECONDS`` (``MELODY_UPLOAD_READ_SECONDS=40``):
    tests shorten a limit to see it act, or lengthen one a busy machine could reach, instead of racing it."""

    upload_read: float = 20.0  # reading one uploaded MIDI file, in a process of its own
    generation: float = 120.0  # one generation in a worker (512 notes with 64 candidates take about 20 s)
    session_idle: float = 1800.0  # a page session's state is dropped after this long without a request
    file_lifetime: float = 3600.0  # uploads and results are deleted after this long
    fetch_grace: float = 120.0  # a file this new is about to be fetched or read: never deleted to make room

    @classmethod
    def from_environment(cls, environ=os.environ):
        """The limits, each from ``$MELODY_<NAME>_SECONDS`` when that is a positive number."""
        values = {}
        for item in fields(cls):
            text = environ.get(f"MELODY_{item.name.upper()}_SECONDS", "")
            try:
                if float(text) > 0:
                    values[item.name] = float(text)
            except ValueError:
                continue
        return cls(**values)


TIME_LIMITS = TimeLimits.from_environment()
MAX_TEXT = 2000  # characters of a short text setting (pins, a scale's name)
MAX_UPLOAD_BYTES = 10 * 1024 * 1024  # the largest MIDI file the server takes (the page, the API and the reader)


def text(value, what):
    """A short text setting: a string (None gives ""), at most ``MAX_TEXT`` characters."""
    if value is None:
        return ""
    if not isinstance(value, str):
        raise SeedError(f"{what} must be text, got {shown(value)}.")
    if len(value) > MAX_TEXT:
        raise SeedError(f"{what}: at most {MAX_TEXT} characters, got {len(value)}.")
    return value.strip()


def flag(value, what, default):
    """A yes/no setting: ``True``/``False``, ``1``/``0`` or the words true/false, yes/no, on/off."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return default
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if isinstance(value, str) and value.strip().lower() in _TRUE | _FALSE:
        return value.strip().lower() in _TRUE
    raise SeedError(f"{what} must be true or false, got {shown(value)}.")


@dataclass(frozen=True)
class Settings:
    """Everything a Generate click decides, with the page's defaults (see ``LIMITS``)."""

    length: int = LIMITS["length"].default
    temperature: float = LIMITS["temperature"].default
    beta: float = None
    top_k: int = None
    top_p: float = None
    rng_seed: int = None
    tempo_bpm: float = LIMITS["tempo_bpm"].default
    program: int = LIMITS["program"].default
    original_key: bool = True
    variations: int = LIMITS["variations"].default
    show_probabilities: bool = True
    memory: float = LIMITS["memory"].default
    histogram: bool = True
    pins: str = ""  # "15:C5 31:G4/4", in the seed's own key (see melody.generation.steering)
    scale: str = None  # "C major", "A minor pentatonic", "seed"...: in the seed's own key; None: any note
    scale_strength: float = LIMITS["scale_strength"].default
    loop: bool = False
    max_copy: int = None

    def checked(self):
        """These settings with every value checked and normalised (top-k 0 and top-p 1 mean off; a
        missing random seed is drawn now, so that the result can be reproduced), or a ``SeedError``
        naming the first setting out of range."""
        values = {f.name: getattr(self, f.name) for f in fields(self)}
        for name in values:
            if name in LIMITS and name != "max_copy":
                values[name] = number(values[name], name)
        values["length"] = number(self.length, "length", allow_none=False)
        values["temperature"] = number(self.temperature, "temperature", allow_none=False)
        values["top_k"] = values["top_k"] or None
        values["top_p"] = values["top_p"] if values["top_p"] is not None and values["top_p"] < 1 else None
        if values["rng_seed"] is None:
            values["rng_seed"] = random.randrange(2**31)
        for name, what in (("original_key", "Return to the seed's key"), ("show_probabilities", "Shading"),
                           ("histogram", "Histogram"), ("loop", "Loop")):
            values[name] = flag(values[name], what, getattr(Settings, name))
        values["max_copy"] = None if self.max_copy in (None, "", 0, "0") else number(self.max_copy, "max_copy")
        values["pins"], values["scale"] = text(self.pins, "Pins"), text(self.scale, "Scale") or None
        return replace(self, **values)
