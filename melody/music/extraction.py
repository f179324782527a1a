"""Finding the melody of an arrangement: the voice that carries the tune, followed through its rests.

The old rule (``method="skyline"``) keeps the highest note starting on every 16th of the grid over all
parts, so the bass and the chords fill every rest of the tune. ``method="melody"`` instead:

1. takes every non-drum part on its own (pretty_midi makes one instrument per track, channel and
   program, so a format-0 file with the tune on its own channel arrives already split);
2. reduces every part to its top voice, which keeps its rests: a note under a note the voice still
   holds is dropped, and in a part that plays chords a top note far under the line's register (the
   accompaniment showing through a rest of the tune) is dropped too;
3. scores every voice as a tune: it plays one note at a time, moves by steps, is present throughout
   the piece, does not sit under the middle of the texture, is not a harmony line moving under another
   voice, stays on top, and a track name says so when there is one;
4. keeps the best voice for the whole piece, rests included, plus any voice that plays only before it
   starts or after it ends (parts taking turns, like the patterns of a format-2 file). A choice per
   group of bars with a cost per hand-over was tried and left out: on POP909 every setting that ever
   hands over fills the tune's rests (intros, interludes) with the secondary melody, and in the
   Pokémon files the only long absences of the lead are bass-only passages, so it never helped.

Times are in seconds and pitches are MIDI numbers. Inside the module notes travel as float arrays of
shape (n, 5): ``start, end, pitch, part, beat`` (``part`` = index in ``midi.instruments``, ``beat`` =
onset in quarter notes on the file's beat map).
"""
import re

import numpy as np

CHORD_SECONDS = 0.03  # onsets closer than this sound together (a played chord spreads by a few ms)
CHORD_BEATS = 1 / 8  # ... and closer than this on the beat map (files with absurd tempi stay in order)
HELD_SECONDS = 0.06  # a note must still sound this long past an onset to count as held over it
LEGATO_SECONDS = 0.05  # a silence this short between two notes does not break the line
PHRASE_GAP_SECONDS = 1.5  # no melodic interval is counted across a longer silence; also the presence window
POLYPHONIC_SHARE = 0.2  # a part with more of its onsets in chords than this carries an accompaniment
LOCAL_REGISTER_SECONDS = 4.0  # half-width of the window defining a line's local register
LOCAL_REGISTER_GAP = 8  # semitones under the local upper quartile where a top note is accompaniment
GLOBAL_REGISTER_GAP = 10  # the same, under the upper quartile of the whole part
# The two gaps were set by hand on POP909 with MELODY and PIANO merged into one track (a piano arrangement
# with the tune in the right hand; every 4th file): median similarity to MELODY 0.69 with the local gap
# alone, 0.75 with both (plateau from 6 to 10 semitones). On all 808 files: 0.45 for the highest note per
# onset, 0.75 for top_voice (bench/extraction.py, "one track" rows).

# Weights of the voice score. monophony, stepwise, presence and leaps: conditional logit (softmax over
# the three parts of each file, "which is MELODY") on the 808 POP909 files with names removed, 5-fold
# cross-validation by file: 96.9% of held-out files pick MELODY (fitted 8.1, 3.8, 3.9, -1.5; rounded).
# The others are hand-set for what POP909 cannot teach (its bass lives inside the piano part, and its
# secondary melody often lies above the tune): a bass (below), a harmony line moving under the tune
# (harmony), a voice heard in a few bars only (scarce; no POP909 melody is present in less than a third
# of its song) and, small, staying on top (on_top). They pick the tune in Pokémon files where the fitted
# terms alone pick a viola under the violin or a second piano a third under the first, and cost 0.6% of
# POP909 files (97.0% -> 96.4% pick MELODY).
WEIGHTS = {"monophony": 8.0, "stepwise": 4.0, "presence": 4.0, "leaps": -2.0,
           "below": -4.0, "harmony": -12.0, "scarce": -40.0, "on_top": 0.5}
HARMONY_SHARE = 0.25  # a voice under another one for more than this share of its notes is a harmony line
SCARCE_PRESENCE = 0.25  # a voice present in less of the piece than this is not its melody
NAME_WEIGHT = 4.0  # a track name (or a bass program) is a strong hint, but not stronger than the music
MELODY_NAME = re.compile(r"melod|lead|vocal|voice|\bvox|\bsing|solo|\btune|theme|\bmain\b|right|\br\.? ?h\b",
                         re.IGNORECASE)
ACCOMPANIMENT_NAME = re.compile(r"bass|drum|perc|chord|\bpads?\b|accomp|harmon|\bleft|\bl\.? ?h\b|rhythm|"
                                r"strum|arp|backing", re.IGNORECASE)
BASS_PROGRAMS = range(32, 40)  # General MIDI basses


def extract_melody(midi, method="melody"):
    """The melody of a MIDI file, one note at a time.

    Parameters
    ----------
    midi : pretty_midi.PrettyMIDI
        The file, e.g. from ``melody.music.midi_io.load_midi``.
    method : {"melody", "skyline"}
        ``"melody"``: the lead voice followed through its rests (see the module's description).
        ``"skyline"``: the old encoder's rule, the highest note starting on each 16th over all parts.

    Returns
    -------
    list of (float, float, int)
        ``(start_seconds, end_seconds, pitch)``, sorted by start, without overlaps; empty when the file
        has no notes outside drum tracks.
    """
    return [(float(s), float(e), int(p)) for s, e, p in melody_notes(midi, method)[:, :3]]


def melody_notes(midi, method="melody"):
    """Like :func:`extract_melody`, as an array of shape (n, 5): start, end (seconds), pitch, the index
    in ``midi.instruments`` of the part each note comes from, and its onset in beats."""
    if method == "skyline":
        return skyline(midi)
    if method != "melody":
        raise ValueError(f"Unknown melody extraction method {method!r}: use 'melody' or 'skyline'.")
    parts = pitched_parts(midi)
    if not parts:
        return np.zeros((0, 5))
    voices = [top_voice(notes) for notes in parts]
    if len(voices) == 1:
        return voices[0]
    melody = np.concatenate(taking_turns(voices, np.argsort(-voice_scores(midi, parts, voices), kind="stable")))
    return monophonic(melody[np.argsort(melody[:, 0], kind="stable")])


def note_array(midi, part):
    """The notes of ``midi.instruments[part]`` as an array of (start, end, pitch, part, beat), sorted by
    start, highest first within a chord."""
    notes = midi.instruments[part].notes
    array = np.array([(n.start, n.end, n.pitch, part, midi.time_to_tick(n.start) / midi.resolution) for n in notes],
                     dtype=np.float64).reshape(-1, 5)
    return array[np.lexsort((-array[:, 2], array[:, 0]))]


def pitched_parts(midi):
    """Note arrays of the non-drum instruments that hold notes."""
    return [note_array(midi, i) for i, inst in enumerate(midi.instruments) if not inst.is_drum and inst.notes]


def monophonic(notes):
    """Cut every note where the next one starts, so that no two overlap (notes sorted by start)."""
    notes = notes.copy()
    notes[:-1, 1] = np.minimum(notes[:-1, 1], notes[1:, 0])
    return notes


def skyline(midi):
    """The old encoder's rule: the highest note starting on each 16th-note step, over all non-drum parts.

    Steps come from the file's beat map (ticks), as in ``encoding.melody_from_pretty_midi``; the kept
    notes keep their real start and end, cut where the next kept note starts.
    """
    parts = pitched_parts(midi)
    if not parts:
        return np.zeros((0, 5))
    notes = np.concatenate(parts)
    steps = np.rint(notes[:, 4] * 4).astype(np.int64)  # = ticks / (ticks per 16th), exactly (a power of 2)
    order = np.lexsort((notes[:, 2], steps))
    steps, notes = steps[order], notes[order]
    return monophonic(notes[np.r_[steps[1:] != steps[:-1], True]])


def onset_groups(starts, beats):
    """Chord number of every note (sorted by start): an onset within ``CHORD_SECONDS`` and ``CHORD_BEATS``
    of a chord's first note joins it."""
    group = np.zeros(len(starts), dtype=np.int64)
    first, first_beat = -np.inf, -np.inf
    for i, (start, beat) in enumerate(zip(starts, beats)):
        if start - first > CHORD_SECONDS or beat - first_beat > CHORD_BEATS:
            first, first_beat = start, beat
            group[i] = group[i - 1] + 1 if i else 0
        else:
            group[i] = group[i - 1]
    return group


def local_register(pitches, starts):
    """Upper register of a line around each note: the 75th percentile (as ``np.percentile``) of its
    pitches within ``LOCAL_REGISTER_SECONDS`` either side (MIDI numbers; ``starts`` sorted)."""
    low = np.searchsorted(starts, starts - LOCAL_REGISTER_SECONDS)
    high = np.searchsorted(starts, starts + LOCAL_REGISTER_SECONDS, side="right")
    rank = 0.75 * (high - low - 1)  # place of the percentile among the window's sorted pitches
    seen = np.zeros(len(pitches))
    below, above = np.full(len(pitches), np.nan), np.full(len(pitches), np.nan)
    # One pass per distinct pitch, upwards, counting window notes at or under it: time and memory stay
    # linear in the notes however dense the windows are.
    for pitch in np.unique(pitches):
        where = np.flatnonzero(pitches == pitch)
        seen += np.searchsorted(where, high) - np.searchsorted(where, low)
        below[np.isnan(below) & (seen > np.floor(rank))] = pitch
        above[np.isnan(above) & (seen > np.ceil(rank))] = pitch
    return below + (rank - np.floor(rank)) * (above - below)


def rejoin_steps(tops, keep):
    """Give back to the line every dropped note joined to a kept one by a chain of legato steps.

    A wide-ranging tune dips under its own register (a rising run that starts low); what ties such
    notes to the tune is that they move into it by step without a break, which accompaniment showing
    through a rest of the tune does not.
    """
    joined = (tops[1:, 0] - tops[:-1, 1] <= LEGATO_SECONDS) & (np.abs(np.diff(tops[:, 2])) <= 2)
    run = np.r_[0, np.cumsum(~joined)]  # notes joined by legato steps share a run number
    return keep | (np.bincount(run, weights=keep) > 0)[run]


def top_voice(notes):
    """The top voice of one part, keeping its rests.

    Parameters
    ----------
    notes : array of shape (n, 5)
        The part's notes (``note_array``), sorted by start, highest first within a chord.

    Returns
    -------
    array of shape (m, 5)
        Monophonic notes sorted by start. The highest note of every chord is a candidate. In a part that
        plays chords, a candidate more than ``LOCAL_REGISTER_GAP`` semitones under the line's local upper
        register, or ``GLOBAL_REGISTER_GAP`` under the part's, is dropped (while the tune rests, the top
        of a piano part is the accompaniment, which sits lower), unless legato steps join it to a kept
        note (``rejoin_steps``). A candidate under a note the voice still holds is dropped too: it is an
        inner voice, not the line.
    """
    group = onset_groups(notes[:, 0], notes[:, 4])
    tops = notes[np.r_[True, group[1:] != group[:-1]]]
    keep = np.ones(len(tops), dtype=bool)
    if np.mean(np.bincount(group) > 1) > POLYPHONIC_SHARE:
        keep &= tops[:, 2] >= local_register(tops[:, 2], tops[:, 0]) - LOCAL_REGISTER_GAP
        keep &= tops[:, 2] >= np.percentile(tops[keep, 2], 75) - GLOBAL_REGISTER_GAP
        keep = rejoin_steps(tops, keep)
    held_until, held_pitch = -np.inf, -1.0
    for i, (start, end, pitch) in enumerate(tops[:, :3]):
        if not keep[i]:
            continue
        if held_until - start > HELD_SECONDS and pitch < held_pitch:
            keep[i] = False
            continue
        held_until, held_pitch = end, pitch
    return monophonic(tops[keep])


def highest_sounding(notes, times):
    """Highest pitch among ``notes`` sounding at each of ``times`` (seconds); -1 where none sounds.

    A note sounds from its start (included) to its end (excluded). One pass per distinct pitch, upwards,
    so that the cost does not grow with how long the notes or the piece last.
    """
    highest = np.full(len(times), -1.0)
    for pitch in np.unique(notes[:, 2]):
        same = notes[notes[:, 2] == pitch]
        started = np.searchsorted(np.sort(same[:, 0]), times, side="right")
        ended = np.searchsorted(np.sort(same[:, 1]), times, side="right")
        highest[started > ended] = pitch
    return highest


def melodic_intervals(voice):
    """Absolute intervals (semitones) between successive notes of a voice, within phrases."""
    gaps = voice[1:, 0] - voice[:-1, 1]
    return np.abs(np.diff(voice[:, 2]))[gaps < PHRASE_GAP_SECONDS]


def voice_features(voice, part, others, highest_elsewhere, piece_seconds, piece_mean_pitch):
    """How much a voice behaves like a tune.

    Parameters
    ----------
    voice : array of shape (m, 5)
        The voice (``top_voice`` of its part), not empty.
    part : array of shape (n, 5)
        All notes of the part it comes from.
    others : list of arrays
        The other voices of the piece.
    highest_elsewhere : array of shape (m,)
        Highest pitch of the other parts sounding at each of its onsets (``highest_sounding``).
    piece_seconds : float
        End of the last note of the piece (seconds).
    piece_mean_pitch : float
        Mean MIDI pitch of all the piece's pitched notes.

    Returns
    -------
    dict of float
        ``monophony``: share of the part's notes that are in the voice; ``stepwise`` and ``leaps``:
        share of its intervals of at most 2 semitones and above 7; ``presence``: share of the piece's
        ``PHRASE_GAP_SECONDS`` windows in which it starts a note, and ``scarce``: how far that is under
        ``SCARCE_PRESENCE``; ``below``: octaves its mean pitch lies under the piece's mean (0 when
        above); ``harmony``: how far the share of its notes sounding under another voice (``under_share``)
        exceeds ``HARMONY_SHARE``; ``on_top``: share of its notes with nothing higher sounding at
        their onset.
    """
    intervals = melodic_intervals(voice)
    presence = len(np.unique(voice[:, 0] // PHRASE_GAP_SECONDS)) / max(np.ceil(piece_seconds / PHRASE_GAP_SECONDS), 1)
    return {
        "monophony": len(voice) / len(part),
        "stepwise": float(np.mean(intervals <= 2)) if len(intervals) else 0.0,
        "leaps": float(np.mean(intervals > 7)) if len(intervals) else 0.0,
        "presence": presence,
        "scarce": max(0.0, SCARCE_PRESENCE - presence),
        "below": max(0.0, float(piece_mean_pitch - np.mean(voice[:, 2])) / 12),
        "harmony": max(0.0, under_share(voice, others) - HARMONY_SHARE),
        "on_top": float(np.mean(voice[:, 2] >= highest_elsewhere)),
    }


def under_share(voice, others):
    """Largest share of a voice's notes that start together with a higher note of one other voice (0..1).

    A harmony line (a viola under the violin, a second piano a third under the first) moves with the
    tune and under it; a secondary melody above a tune mostly moves at other times.
    """
    if not others:
        return 0.0
    other = np.concatenate(others)
    other = other[np.argsort(other[:, 0], kind="stable")]
    low = np.searchsorted(other[:, 0], voice[:, 0] - CHORD_SECONDS)
    count = np.searchsorted(other[:, 0], voice[:, 0] + CHORD_SECONDS, side="right") - low
    note = np.repeat(np.arange(len(voice)), count)  # every (note, other note starting with it) pair
    partner = np.arange(count.sum()) - np.repeat(np.cumsum(count) - count, count) + np.repeat(low, count)
    interval = other[partner, 2] - voice[note, 2]
    harmony = (interval > 0) & (interval % 12 != 0)  # an octave doubling is the same tune, not a harmony
    pairs = np.unique(np.c_[note[harmony], other[partner[harmony], 3]], axis=0)  # a note counts once per voice
    return float(np.bincount(pairs[:, 1].astype(np.int64)).max() / len(voice)) if len(pairs) else 0.0


def name_hint(instrument):
    """+1 when the track name says melody, -1 when it says accompaniment or the program is a bass, else 0."""
    if MELODY_NAME.search(instrument.name or ""):
        return 1
    if ACCOMPANIMENT_NAME.search(instrument.name or "") or instrument.program in BASS_PROGRAMS:
        return -1
    return 0


def voice_scores(midi, parts, voices):
    """Melody score of every voice: ``WEIGHTS`` times its features, plus ``NAME_WEIGHT`` times its name hint.

    Parameters
    ----------
    midi : pretty_midi.PrettyMIDI
        The file (for the names and programs of the parts).
    parts : list of arrays
        ``pitched_parts(midi)``, two or more.
    voices : list of arrays
        ``top_voice`` of every part.

    Returns
    -------
    array of float
        One score per voice; the highest is the melody.
    """
    everything = np.concatenate(parts)
    piece_seconds = max(float(everything[:, 1].max()), PHRASE_GAP_SECONDS)
    mean_pitch = float(everything[:, 2].mean())
    scores = []
    for i, (notes, voice) in enumerate(zip(parts, voices)):
        elsewhere = everything[everything[:, 3] != notes[0, 3]]
        # a note starting with the onset (within CHORD_SECONDS) sounds with it
        highest = highest_sounding(elsewhere, voice[:, 0] + CHORD_SECONDS / 2)
        features = voice_features(voice, notes, voices[:i] + voices[i + 1:], highest, piece_seconds, mean_pitch)
        hint = name_hint(midi.instruments[int(notes[0, 3])])
        scores.append(sum(WEIGHTS[k] * features[k] for k in WEIGHTS) + NAME_WEIGHT * hint)
    return np.array(scores)


def taking_turns(voices, order):
    """The voices to join into the melody: the first of ``order``, then every next one that plays only
    where all those kept are silent for good (before their first note or after their last).

    Parameters
    ----------
    voices : list of arrays
    order : array of int
        Voice indices, best first.

    Returns
    -------
    list of arrays
    """
    kept = []
    for i in order:
        start, end = voices[i][0, 0], voices[i][-1, 1]
        if all(end <= voices[k][0, 0] or start >= voices[k][-1, 1] for k in kept):
            kept.append(i)
    return [voices[i] for i in kept]
