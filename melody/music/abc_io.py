"""ABC tunes (music21's bundled folk collections) to timed note events, without building Streams.

``music21.converter.parse`` turns every tune into a full ``Score`` (measures, beams, clefs, spanners,
re-barring): 706 s of CPU for the 11,582 bundled tunes on the development machine. Everything a
melody needs is already in the tokens of music21's own ABC reader (``abcFormat.ABCFile().readstr``)
once it has processed them: pitch names with the key signature and the bar's accidentals applied,
quarter lengths with the default length and broken rhythms applied, ties, tuplets, grace notes,
metre and key. Reading those takes 59 s of CPU for the same tunes, and gives the Stream path's
pitches, onsets and durations for all but 67 of them once the three choices below are allowed
for (the 67 are music21 bugs: it drops a note whose annotation starts with ``>``, and ignores a tie
between chords). The choices, which matter for a melody:

- a tie between two equal pitches is one note, as in a MIDI file (music21 keeps two tied notes);
- grace notes are left out: they take no time, and the Stream path put them on the beat of the
  note they ornament, where a higher grace note replaced the melody note;
- guitar-chord symbols (``"G"``) are not notes: the Stream path added their pitches (e.g. G3 B3
  D4) at the note's onset, which replaced a lower melody note and filled rests.

Clef transpositions (``K: clef=treble-8``) are not applied; none occur in the bundled collections.
"""
from dataclasses import dataclass
from fractions import Fraction
from functools import lru_cache
from typing import NamedTuple

from music21 import abcFormat
from music21 import key as m21key
from music21 import pitch as m21pitch

CONTINUED_TIES = ("stop", "continue")


class NoteEvent(NamedTuple):
    """One note of a tune. Times are in quarter notes from the tune's first note or rest (exact
    fractions: a triplet eighth is 1/3)."""

    onset_qn: Fraction
    duration_qn: Fraction
    pitch: int  # MIDI number as written (the highest note of a chord)

    @property
    def end_qn(self):
        return self.onset_qn + self.duration_qn


@dataclass(frozen=True)
class AbcTune:
    """The notes and the metre of one ABC tune (one ``X:`` reference number).

    Attributes
    ----------
    number : int or None
        The ``X:`` reference number (None when the file defines none).
    notes : tuple of NoteEvent
        By onset; rests are the gaps between notes. Several voices (``V:``) overlap, each from 0.
    meter : (int, int) or None
        The tune's first ``M:`` as (numerator, denominator), e.g. (6, 8); None for ``M:none``
        or no ``M:``. Later metre changes are not recorded.
    key : str or None
        The tune's first ``K:``, e.g. ``"G major"``, ``"A dorian"``.
    pickup_qn : Fraction
        Length of the upbeat before the first bar line, in quarter notes (0 without one).
    """

    number: object
    notes: tuple
    meter: object = None
    key: object = None
    pickup_qn: Fraction = Fraction(0)

    @property
    def bar_qn(self):
        """Length of a bar of the first metre, in quarter notes (None without a metre)."""
        return Fraction(4 * self.meter[0], self.meter[1]) if self.meter else None


def read_abc(text):
    """Every tune of an ABC file, in reference-number order (music21's order for an ``Opus``).

    A number defined twice keeps its last tune, as music21 does.

    Parameters
    ----------
    text : str
        The ABC source.

    Returns
    -------
    list of AbcTune

    Raises
    ------
    Exception
        Whatever music21's tokenizer raises on a file it cannot read.
    """
    handler = abcFormat.ABCFile().readstr(text)
    if not handler.tokens:
        return []
    if not handler.definesReferenceNumbers():  # zero or one X: field: the whole file is one tune
        number = handler.getReferenceNumber()
        return [read_tune(int(number) if number and number.strip().isdigit() else None, handler)]
    return [read_tune(number, tune) for number, tune in sorted(handler.splitByReferenceNumber().items())]


def read_tune(number, handler):
    """One tune from its processed ``ABCHandler`` (see :func:`read_abc`)."""
    notes, bar_lines = [], []
    for voice in handler.splitByVoice():
        voice_notes, first_bar_qn = _voice_notes(voice.tokens)
        notes += voice_notes
        bar_lines.append(first_bar_qn)
    fields = [t for t in handler.tokens if isinstance(t, abcFormat.ABCMetadata)]
    meter = next((_meter(t) for t in fields if t.isMeter()), None)
    key = next((_key_name(t) for t in fields if t.isKey()), None)
    notes.sort(key=lambda n: (n.onset_qn, n.pitch))
    tune = AbcTune(number, tuple(notes), meter, key)
    first_bar_qn = bar_lines[0] if bar_lines else None
    if first_bar_qn is not None and tune.bar_qn and first_bar_qn < tune.bar_qn:
        tune = AbcTune(number, tune.notes, meter, key, first_bar_qn)
    return tune


def _voice_notes(tokens):
    """Note events of one voice, and the time of its first bar line after some music (or None)."""
    time, first_bar_qn, notes = Fraction(0), None, []
    for token in tokens:
        kind = type(token)  # exact types: faster than isinstance over ~800,000 tokens
        if kind is abcFormat.ABCBar:
            if first_bar_qn is None and time > 0:
                first_bar_qn = time
            continue
        if kind is not abcFormat.ABCNote and kind is not abcFormat.ABCChord or token.inGrace:
            continue
        length = _fraction(token.quarterLength)
        if token.activeTuplet is not None:  # the token's length is the written one: (3abc are 2/3 of it
            length *= _fraction(token.activeTuplet.tupletMultiplier())
        top = _top_pitch(token)
        if top is None and kind is abcFormat.ABCChord:
            continue  # an empty chord "[]": music21 skips it without taking time
        if top is not None:
            _add_note(notes, NoteEvent(time, length, top), token.tie)
        time += length
    return notes, first_bar_qn


@lru_cache(maxsize=None)
def _fraction(quarter_length):
    """``quarter_length`` (a float or Fraction, as music21 gives it) as an exact Fraction."""
    return Fraction(quarter_length)


def _add_note(notes, note, tie):
    """Append ``note``, or lengthen the previous note when a tie joins two equal pitches. (O'Neill's
    collection also writes ties between different pitches, as phrasing: those stay two notes.)"""
    last = notes[-1] if notes else None
    if tie in CONTINUED_TIES and last and last.pitch == note.pitch and last.end_qn == note.onset_qn:
        notes[-1] = NoteEvent(last.onset_qn, last.duration_qn + note.duration_qn, last.pitch)
    else:
        notes.append(note)


def _top_pitch(token):
    """MIDI number of a note, the highest of a chord, or None for a rest or an empty chord."""
    if isinstance(token, abcFormat.ABCChord):
        names = [sub.pitchName for sub in token.subTokens if isinstance(sub, abcFormat.ABCNote) and not sub.isRest]
        return max((midi_number(n) for n in names), default=None)
    return None if token.isRest else midi_number(token.pitchName)


@lru_cache(maxsize=None)
def midi_number(name):
    """MIDI number of a music21 pitch name such as ``"F#5"`` or ``"B-4"`` (few distinct names: cached)."""
    return m21pitch.Pitch(name).midi


def _meter(token):
    parameters = token.getTimeSignatureParameters()  # (numerator, denominator, symbol) or None
    return (int(parameters[0]), int(parameters[1])) if parameters else None


@lru_cache(maxsize=None)
def _key_from(sharps, mode):
    signature = m21key.KeySignature(sharps)
    return signature.asKey(mode or "major").name


def _key_name(token):
    sharps, mode = token.getKeySignatureParameters()
    return _key_from(sharps, mode)
