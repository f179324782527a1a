"""The page's state as a link: the tune and the settings in the address's fragment (``#1...``).

The fragment is ``1`` (the format) then URL-safe base64 of zlib-compressed bytes:

- the meter (beats, beat) and the bar offset of the first note (its place in its bar), a byte each;
- the number of notes, then each note as varints: the steps since the previous note's onset, its
  length in 16ths, and a byte for its pitch (MIDI, in the tune's own key);
- the settings that differ from the page's defaults, as JSON.

A 64-bar tune of eighth notes (512 notes) takes about a kilobyte: short enough to paste into a chat.
Nothing in a link is trusted: :func:`read_link` checks every field and says what is wrong.
"""
import base64
import binascii
import json
import zlib

from ..errors import SeedError
from ..settings import LIMITS

FORMAT = "1"
MAX_NOTES = 4096  # the most notes a link carries
MAX_BYTES = 256 * 1024  # the most a link's bytes may inflate to (a small link cannot ask for gigabytes)
MAX_LINK = 64 * 1024  # the longest fragment read, in characters
DAMAGED = "This link is damaged (cut short in copying?): the page starts as usual. Copy the link again."


def _varint(value):
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        out.append(byte | (0x80 if value else 0))
        if not value:
            return bytes(out)


def _read_varint(data, at):
    value, shift = 0, 0
    while True:
        if at >= len(data) or shift > 28:
            raise SeedError(DAMAGED)
        byte = data[at]
        at += 1
        value |= (byte & 0x7F) << shift
        shift += 7
        if not byte & 0x80:
            return value, at


def make_link(notes, meter=(4, 4), bar_position=0, settings=None):
    """The fragment (without ``#``) for ``notes`` ``[(onset, length, pitch), ...]`` (16ths, MIDI, onsets
    increasing), the ``meter`` and the first note's place in its bar, and ``settings`` (a dict; the
    ones equal to their defaults in ``LIMITS`` are left out)."""
    notes = sorted(notes)[:MAX_NOTES]
    data = bytearray([int(meter[0]) & 0xFF, int(meter[1]) & 0xFF, int(bar_position) & 0xFF])
    data += _varint(len(notes))
    previous = notes[0][0] if notes else 0
    for onset, length, pitch in notes:
        data += _varint(int(onset) - previous) + _varint(int(length)) + bytes([int(pitch) & 0x7F])
        previous = int(onset)
    kept = {k: v for k, v in (settings or {}).items() if k not in LIMITS or v != LIMITS[k].default}
    data += json.dumps(kept, separators=(",", ":"), sort_keys=True).encode()
    return FORMAT + base64.urlsafe_b64encode(zlib.compress(bytes(data), 9)).decode().rstrip("=")


def read_link(fragment):
    """``(notes, meter, bar_position, settings)`` of a fragment :func:`make_link` made (a leading ``#``
    is allowed); the notes start at step ``bar_position``. Raises ``SeedError`` for anything else."""
    text = (fragment or "").strip().lstrip("#")
    if not text.startswith(FORMAT) or len(text) > MAX_LINK:
        raise SeedError(DAMAGED)
    try:
        packed = base64.urlsafe_b64decode(text[1:] + "=" * (-len(text[1:]) % 4))
        inflate = zlib.decompressobj()
        data = inflate.decompress(packed, MAX_BYTES)
        if inflate.unconsumed_tail:
            raise SeedError(DAMAGED)
    except (binascii.Error, ValueError, zlib.error):
        raise SeedError(DAMAGED) from None
    if len(data) < 4 or data[1] not in (1, 2, 4, 8, 16) or not 1 <= data[0] <= 32:
        raise SeedError(DAMAGED)
    meter, bar_position = (data[0], data[1]), data[2]
    count, at = _read_varint(data, 3)
    if count > MAX_NOTES:
        raise SeedError(DAMAGED)
    notes, onset = [], bar_position
    for _ in range(count):
        gap, at = _read_varint(data, at)
        length, at = _read_varint(data, at)
        if at >= len(data) or length < 1 or (notes and gap < 1):
            raise SeedError(DAMAGED)
        onset += gap
        notes.append((onset, length, data[at]))
        at += 1
    try:
        settings = json.loads(data[at:].decode() or "{}")
    except (UnicodeDecodeError, ValueError):
        raise SeedError(DAMAGED) from None
    if not isinstance(settings, dict):
        raise SeedError(DAMAGED)
    return notes, meter, bar_position, settings
