"""Turning a folder of MIDI files (or music21's bundled folk songs) into melodies, cached and in parallel.

Each file is encoded once per set of encoding settings: the process that encodes it writes the
result at once to the cache (a JSON file named by a hash of the file's bytes and the settings), so
a run that is stopped loses nothing and the same command continues from the cache. A cache file
that is not what this module writes (damaged, or valid JSON of another shape) is a cache miss.
"""
import hashlib
import json
import os
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import NamedTuple

from ..errors import DataError, EncodingInterrupted, MelodyError
from ..music.encoding import (
    MAX_KEY_WEIGHT_BEATS,
    RHYTHM,
    EncodingConfig,
    Melody,
    encode_midi,
    melody_from_notes,
    meter_of,
)
from .parallel import run_jobs
from .stopping import signal_name, sigterm_deferred

MIDI_SUFFIXES = (".mid", ".midi")
FOLK_COLLECTIONS = ("essenFolksong", "oneills1850", "ryansMammoth")
MIN_NOTES = 2
# Part of the folk cache key: bump it when what a folk file's cache entry holds could change (MIDI
# entries follow encoding.ENCODER_VERSION alone). 2: read from music21's ABC tokens (melody.music.abc_io),
# not its Streams; tied equal notes joined, grace notes and chord symbols left out; note timings,
# metre and key stored for a rhythm-aware encoder.
FOLK_READER_VERSION = 2
# What reading a cache entry of the wrong shape raises (``entry["melody"]`` on a list, and so on).
WRONG_SHAPE = (KeyError, TypeError, ValueError, AttributeError, IndexError)


@dataclass(frozen=True)
class Song:
    """One encoded training item: a file (or a folk tune) and its melody."""

    name: str
    digest: str  # sha256 of the source bytes (and tune number), used for the split and the cache
    melody: Melody


def default_cache_dir():
    """Where encoded melodies are cached: ``$MELODY_CACHE`` or ``~/.cache/melody-playground``."""
    root = os.environ.get("MELODY_CACHE") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "melody-playground"
    )
    return Path(root)


def find_midi_files(folder):
    """Every ``.mid``/``.midi`` file under ``folder`` (recursively), sorted by path."""
    folder = Path(folder)
    if not folder.is_dir():
        raise DataError(f"'{folder}' is not a folder. Pass a folder that holds .mid or .midi files.")
    return sorted(p for p in folder.rglob("*") if p.suffix.lower() in MIDI_SUFFIXES and p.is_file())


# --- Cache files -------------------------------------------------------------------------------

def _cache_key(data, config, reader=""):
    """(sha256 of the file's bytes, the key of its encoding with ``config`` by ``reader``)."""
    settings = json.dumps(config.to_dict(), sort_keys=True).encode() + reader.encode()
    return hashlib.sha256(data).hexdigest(), hashlib.sha256(data + settings).hexdigest()


def _read_cache(path):
    """The JSON in ``path``, or None when it is missing or not JSON."""
    try:
        with open(path) as handle:
            return json.load(handle)
    except (OSError, ValueError):
        return None


def _write_cache(path, payload):
    """Write ``payload`` atomically; a SIGTERM waits for the rename, so no half file or temporary is left."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".{os.getpid()}.tmp")
    with sigterm_deferred():
        with open(tmp, "w") as handle:
            json.dump(payload, handle)
        os.replace(tmp, path)


def _melody_to_json(melody):
    """A ``Melody`` as the JSON data it is cached as (the same whether just encoded or read back)."""
    entry = asdict(melody)
    entry.pop("extra")
    return dict(entry, tokens=list(melody.tokens), notes=[list(n) for n in melody.notes])


# The type of each of Melody's other fields (key, key_shift, tempo_bpm, counts, source), from its default.
MELODY_FIELD_TYPES = {f.name: type(f.default) for f in fields(Melody) if f.name not in ("tokens", "notes", "extra")}


def _int_list(values, low=None, high=None):
    """``values`` when it is a list of ints (within ``low``..``high``); else ValueError."""
    if not isinstance(values, list) or not all(type(v) is int for v in values):
        raise ValueError("not a list of integers")
    if values and low is not None and not low <= min(values) <= max(values) <= high:
        raise ValueError("out of range")
    return values


def _melody_from_json(entry, config, source):
    """The ``Melody`` that ``_melody_to_json`` stored; ValueError or TypeError when ``entry`` is not one
    (tokens outside the vocabulary would crash training later, so they are checked here)."""
    tokens = _int_list(entry["tokens"], 0, config.vocab_size - 1)
    notes = entry["notes"]
    if not isinstance(notes, list) or not all(isinstance(n, list) and len(n) == 3 for n in notes):
        raise ValueError("notes are not (onset, steps, pitch) lists")
    for column, (low, high) in enumerate(((0, 2**31), (1, config.max_steps), (config.lowest_pitch,
                                                                               config.highest_pitch))):
        _int_list([n[column] for n in notes], low, high)
    info = {k: v for k, v in entry.items() if k not in ("tokens", "notes")}
    for name, value in info.items():  # an unknown name raises KeyError
        expected = MELODY_FIELD_TYPES[name]
        allowed = (int, float) if expected is float else expected  # JSON may write 120.0 as 120
        if expected in (int, float, str, bool) and (not isinstance(value, allowed) or
                                                    isinstance(value, bool) != (expected is bool)):
            raise ValueError(f"{name} is not a {expected.__name__}")
    if bool(info.get("rhythm")) != config.rhythm or (not config.rhythm and len(tokens) != len(notes)):
        raise ValueError("tokens and notes do not match the encoding")
    return Melody(tokens=tuple(tokens), notes=tuple(tuple(n) for n in notes), **dict(info, source=source))


# --- MIDI files: one melody each -----------------------------------------------------------------

def _encode_midi(path, data, config):
    """The cache entry of one MIDI file: ``{"melody": fields or None, "error": message or None}``
    (``encode_midi`` reads the file itself, with the reading limits of ``midi_io``)."""
    try:
        return {"melody": _melody_to_json(encode_midi(path, config)), "error": None}
    except MelodyError as exc:
        return {"melody": None, "error": str(exc)}
    except Exception as exc:  # a hostile file must never stop a whole training run
        return {"melody": None, "error": f"unexpected {type(exc).__name__}: {exc}"}


def _midi_songs(name, digest, entry, config):
    """``(songs, skipped)`` of one MIDI file's cache entry; raises one of ``WRONG_SHAPE`` on a bad entry."""
    error = entry["error"]
    if error is not None:
        if not isinstance(error, str) or entry["melody"] is not None:
            raise ValueError("an error and a melody")
        return [], [(name, error)]
    melody = _melody_from_json(entry["melody"], config, name)
    if len(melody) < MIN_NOTES:
        return [], [(name, f"fewer than {MIN_NOTES} melody notes")]
    return [Song(name, digest, melody)], []


# --- Folk files: many tunes each ---------------------------------------------------------------

def _encode_folk(path, data, config):
    """The cache entry of one ABC file: ``{"tunes": [tune entry, ...], "error": message or None}``."""
    from ..music import abc_io  # imports music21: slow, and only needed for this corpus

    name = os.path.basename(path)
    try:
        tunes = abc_io.read_abc(data.decode("utf-8"))
    except Exception as exc:  # a corpus file music21 itself cannot read is skipped, not fatal
        return {"tunes": [], "error": f"{type(exc).__name__}: {exc}"}
    return {"tunes": [_tune_entry(tune, config, f"{name}#{i + 1}") for i, tune in enumerate(tunes)], "error": None}


def _tune_entry(tune, config, name):
    """One tune's cache entry: its melody (what the model trains on today) and its notes with their
    timing, metre and key (what a rhythm-aware encoder needs). Times are in grid steps
    (``config.steps_per_quarter`` per quarter note); rests are the gaps; pitches are MIDI numbers as
    written (the melody's ``key_shift`` moves them to C)."""
    per_quarter = config.steps_per_quarter
    # round() (half to even) on floats, exactly as the Stream reader placed onsets: same steps.
    onsets = [round(float(n.onset_qn) * per_quarter) for n in tune.notes]
    ends = [round(float(n.end_qn) * per_quarter) for n in tune.notes]
    pitches = [n.pitch for n in tune.notes]
    weights = [min(float(n.duration_qn), MAX_KEY_WEIGHT_BEATS) or 1e-3 for n in tune.notes]
    bar = meter_of(*tune.meter, per_quarter) if tune.meter else 4 * per_quarter
    pickup = round(float(tune.pickup_qn) * per_quarter)
    melody = melody_from_notes(onsets, [max(1, e - o) for o, e in zip(onsets, ends)], pitches, config,
                               key_weights=weights, steps_per_bar=bar, bar_offset=pickup % bar, source=name,
                               notes_in_source=len(pitches))
    return {
        "number": tune.number,
        "melody": _melody_to_json(melody),
        "onset_steps": onsets,
        "duration_steps": [end - onset for onset, end in zip(onsets, ends)],
        "pitches": pitches,
        "meter": list(tune.meter) if tune.meter else None,
        "key": tune.key,
        "pickup_steps": round(float(tune.pickup_qn) * per_quarter),
    }


def _check_tune(entry):
    """ValueError unless ``entry`` has the timing fields :func:`_tune_entry` writes."""
    onsets, durations = _int_list(entry["onset_steps"]), _int_list(entry["duration_steps"])
    if not len(onsets) == len(durations) == len(_int_list(entry["pitches"])):
        raise ValueError("note lists differ in length")
    meter, key = entry["meter"], entry["key"]
    if meter is not None and len(_int_list(meter)) != 2 or key is not None and not isinstance(key, str):
        raise ValueError("bad metre or key")
    _int_list([entry["pickup_steps"]])


def _folk_songs(name, digest, entry, config):
    """``(songs, skipped)`` of one ABC file's cache entry; raises one of ``WRONG_SHAPE`` on a bad entry."""
    error, tunes = entry["error"], entry["tunes"]
    if not isinstance(tunes, list) or not (error is None or isinstance(error, str)):
        raise ValueError("not a folk file entry")
    songs = []
    for number, tune in enumerate(tunes):
        _check_tune(tune)
        melody = _melody_from_json(tune["melody"], config, f"{name}#{number + 1}")
        if len(melody) >= MIN_NOTES:
            songs.append(Song(f"{name}#{number + 1}", f"{digest}-{number}", melody))
    return songs, [(name, error)] if error is not None else []


class _Kind(NamedTuple):
    """How one kind of file is encoded, cached and turned into songs."""

    encode: object  # (path, bytes, config) -> cache entry (JSON data); runs in a worker
    songs: object  # (file name, digest, entry, config) -> (songs, skipped); raises WRONG_SHAPE
    reader: str  # part of the cache key
    folder: object  # key -> cache sub-folder
    description: str  # the progress bar's label


KINDS = {
    "midi": _Kind(_encode_midi, _midi_songs, "", lambda key: key[:2], "encoding"),
    "folk": _Kind(_encode_folk, _folk_songs, f"folk-reader-{FOLK_READER_VERSION}", lambda key: "folk",
                  "encoding folk corpus"),
}


# --- Running: cache hits here, the rest on all cores --------------------------------------------

class _Job(NamedTuple):
    kind: str
    path: str
    config: EncodingConfig
    cache_dir: object  # Path, or None without a cache


def _cache_file(job, key):
    return job.cache_dir / KINDS[job.kind].folder(key) / f"{key}.json" if job.cache_dir else None


def _encode_job(job):
    """Encode one file and cache the result at once (runs in a worker). Returns ``(digest, entry)``,
    or ``(None, reason)`` when the file cannot be read. The key comes from the bytes read here, so
    the cache stays right even if the file changed since the main process looked at it."""
    try:
        data = Path(job.path).read_bytes()
    except OSError as exc:
        return None, f"cannot read: {exc.strerror or exc}"
    kind = KINDS[job.kind]
    digest, key = _cache_key(data, job.config, kind.reader)
    entry = kind.encode(job.path, data, job.config)
    if job.cache_dir:
        _write_cache(_cache_file(job, key), entry)
    return digest, entry


def _from_cache(job, name):
    """``(songs, skipped)`` of a file from the cache; None when it must be encoded (or cannot be read,
    which the worker then reports)."""
    try:
        data = Path(job.path).read_bytes()
    except OSError:
        return None
    kind = KINDS[job.kind]
    digest, key = _cache_key(data, job.config, kind.reader)
    entry = _read_cache(_cache_file(job, key)) if job.cache_dir else None
    if entry is None:
        return None
    try:
        return kind.songs(name, digest, entry, job.config)
    except WRONG_SHAPE:  # not what this module wrote: encode the file again and rewrite the entry
        return None


def _encode(kind, paths, config, cache_dir, workers, progress):
    """Songs of ``paths`` of one ``kind``: cached ones read here, the others encoded on all cores.

    Raises
    ------
    EncodingInterrupted
        On Ctrl-C or SIGTERM, after stopping the workers; every file encoded so far is cached.
    """
    cache_dir = default_cache_dir() if cache_dir == "default" else (Path(cache_dir) if cache_dir else None)
    results, pending = {}, []
    for index, path in enumerate(paths):
        job = _Job(kind, str(path), config, cache_dir)
        found = _from_cache(job, os.path.basename(path))
        if found is not None:
            results[index] = found
        else:
            pending.append((index, job, _size(path)))

    def finished(index, result):
        name, (digest, entry) = os.path.basename(paths[index]), result
        results[index] = ([], [(name, entry)]) if digest is None else KINDS[kind].songs(name, digest, entry, config)

    signum = run_jobs(_encode_job, pending, finished, workers, progress, KINDS[kind].description)
    if signum is not None:
        unfinished = [job for index, job, _ in pending if index not in results]
        raise _interrupted(signum, unfinished, len(results), len(paths), cache_dir)
    songs, skipped = [], []
    for index in range(len(paths)):
        songs += results[index][0]
        skipped += results[index][1]
    return songs, skipped


def _interrupted(signum, unfinished, done, total, cache_dir):
    """The error that says what a stop kept. Workers write each file's entry as soon as it is done, a
    moment before this process hears of it: the count is of the entries on disk."""
    if not cache_dir:
        return EncodingInterrupted(f"Stopped by {signal_name(signum)} while encoding: {done} of {total} files were "
                                   f"done, but the cache is off, so the next run starts again.", signum)
    done += sum(_from_cache(job, os.path.basename(job.path)) is not None for job in unfinished)
    return EncodingInterrupted(f"Stopped by {signal_name(signum)} while encoding: {done} of {total} files are done "
                               f"and cached; run the same command again to continue from the cache.", signum)


def _size(path):
    try:
        return os.path.getsize(path)
    except OSError:
        return 0


# --- Public ------------------------------------------------------------------------------------

def encode_files(paths, config=RHYTHM, cache_dir="default", workers=None, progress=True):
    """Encode MIDI files on all cores, skipping unreadable ones.

    Parameters
    ----------
    paths : list of path
    config : EncodingConfig
        The encoding (default ``RHYTHM``; a model's is ``model.encoding``).
    cache_dir : path, "default" or None
        Cache of encoded melodies keyed by file content, encoder version and settings; None disables it.
    workers : int, optional
        Processes to use; default all cores.
    progress : bool
        Show a progress bar (in bytes of files to encode; cached files are not counted).

    Returns
    -------
    (songs, skipped) : (list of Song, list of (file name, reason))

    Raises
    ------
    EncodingInterrupted
        On Ctrl-C or SIGTERM; the files encoded so far are cached.
    """
    return _encode("midi", paths, config, cache_dir, workers, progress)


def encode_folder(folder, **kwargs):
    """Encode every MIDI file under ``folder``; see :func:`encode_files`."""
    paths = find_midi_files(folder)
    if not paths:
        raise DataError(f"No .mid or .midi files found in '{folder}'. Put your MIDI files there, or pass another --data folder.")
    return encode_files(paths, **kwargs)


def folk_corpus_files(collections=FOLK_COLLECTIONS):
    """The ABC files of music21's bundled folk collections (Essen folk songs, O'Neill's, Ryan's Mammoth).

    Raises ``DataError`` when music21 (the training extra, not needed to run the playground) is missing."""
    try:
        import music21
    except ImportError as exc:  # `make run` installs what the playground needs; music21 is for training
        raise DataError(f"Training on music21's folk songs (what train.py uses without --data or data/midi/) needs "
                        f"music21, which cannot be imported here ({exc}): run `make train`, or `pip install -r "
                        f"requirements-train.txt` (an installed package: pip install \"melody-playground[train]\"); "
                        f"or train on your own MIDI files with --data FOLDER.") from None

    root = Path(music21.__file__).parent / "corpus"
    return sorted(p for c in collections for p in (root / c).rglob("*.abc"))


def encode_folk_corpus(config=RHYTHM, cache_dir="default", workers=None, progress=True):
    """Encode music21's bundled folk collections (11,582 tunes in 1,129 files, 3.8 MB of ABC), one
    song per tune; returns ``(songs, skipped)`` like :func:`encode_files`.

    Each file's cache entry also holds, per tune, its notes' onsets and durations in grid steps, their
    pitches as written, its metre and key (see ``_tune_entry``)."""
    return _encode("folk", folk_corpus_files(), config, cache_dir, workers, progress)


def split_songs(songs, validation_fraction=0.1, test_fraction=0.1):
    """Deterministic split by file content: the same file always lands in the same part.

    Returns
    -------
    dict with keys ``"train"``, ``"validation"``, ``"test"`` (lists of Song). With fewer than 3 songs
    there is no test part, and a single song is used for both training and validation.
    """
    ranked = sorted(songs, key=lambda s: s.digest)
    bucket = lambda s: int(hashlib.sha256(s.digest.encode()).hexdigest()[:8], 16) / 2**32  # noqa: E731
    parts = {"train": [], "validation": [], "test": []}
    for song in ranked:
        u = bucket(song)
        part = "test" if u < test_fraction else "validation" if u < test_fraction + validation_fraction else "train"
        parts[part].append(song)
    if len(songs) < 3:
        parts["train"] += parts.pop("test")
        parts["test"] = []
    # Small folders: make sure every part that must exist has at least one song.
    for part in ("validation", "test") if len(songs) >= 3 else ("validation",):
        if not parts[part] and len(parts["train"]) > 1:
            parts[part].append(parts["train"].pop())
    if not parts["validation"]:
        parts["validation"] = list(parts["train"])
    if not parts["train"]:
        parts["train"] = list(parts["validation"])
    return parts
