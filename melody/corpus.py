"""Turning a folder of MIDI files (or music21's bundled folk songs) into melodies, cached and in parallel."""
import hashlib
import json
import os
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path

from tqdm.auto import tqdm

from .encoding import EncodingConfig, Melody, encode_midi, melody_from_events
from .errors import DataError, MelodyError

MIDI_SUFFIXES = (".mid", ".midi")
FOLK_COLLECTIONS = ("essenFolksong", "oneills1850", "ryansMammoth")
MIN_NOTES = 2


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


def _cache_key(data, config):
    settings = json.dumps(config.to_dict(), sort_keys=True).encode()
    return hashlib.sha256(data).hexdigest(), hashlib.sha256(data + settings).hexdigest()


def _read_cache(path):
    try:
        with open(path) as handle:
            return json.load(handle)
    except (OSError, ValueError):
        return None


def _write_cache(path, payload):
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".{os.getpid()}.tmp")
    with open(tmp, "w") as handle:
        json.dump(payload, handle)
    os.replace(tmp, path)


def _melody_to_json(melody):
    fields = asdict(melody)
    fields.pop("extra")
    return fields


def _melody_from_json(fields):
    fields = dict(fields, tokens=tuple(fields["tokens"]), pitches=tuple(fields["pitches"]))
    return Melody(**fields)


def _encode_one(job):
    """Encode one file, through the cache. Returns (name, digest, melody fields or None, error or None)."""
    path, config, cache_dir = job
    name = os.path.basename(path)
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        return name, None, None, f"cannot read: {exc.strerror or exc}"
    digest, key = _cache_key(data, config)
    cache_file = cache_dir / key[:2] / f"{key}.json" if cache_dir else None
    cached = _read_cache(cache_file) if cache_file else None
    if cached is not None:
        return name, digest, cached.get("melody"), cached.get("error")
    try:
        fields, error = _melody_to_json(encode_midi(path, config)), None
    except MelodyError as exc:
        fields, error = None, str(exc)
    except Exception as exc:  # a hostile file must never stop a whole training run
        fields, error = None, f"unexpected {type(exc).__name__}: {exc}"
    if cache_file:
        _write_cache(cache_file, {"melody": fields, "error": error})
    return name, digest, fields, error


def _run_jobs(function, jobs, workers, desc, progress):
    workers = max(1, min(workers or os.cpu_count() or 1, len(jobs)))
    bar = dict(total=len(jobs), desc=desc, unit="file", disable=not progress, leave=False)
    if workers == 1 or len(jobs) < 8:
        return [function(job) for job in tqdm(jobs, **bar)]
    with ProcessPoolExecutor(max_workers=workers) as pool:
        return list(tqdm(pool.map(function, jobs, chunksize=4), **bar))


def encode_files(paths, config=EncodingConfig(), cache_dir="default", workers=None, progress=True):
    """Encode MIDI files on all cores, skipping unreadable ones.

    Parameters
    ----------
    paths : list of path
    config : EncodingConfig
    cache_dir : path, "default" or None
        Cache of encoded melodies keyed by file content, encoder version and settings; None disables it.
    workers : int, optional
        Processes to use; default all cores.

    Returns
    -------
    (songs, skipped) : (list of Song, list of (file name, reason))
    """
    cache_dir = default_cache_dir() if cache_dir == "default" else (Path(cache_dir) if cache_dir else None)
    jobs = [(str(p), config, cache_dir) for p in paths]
    songs, skipped = [], []
    for name, digest, fields, error in _run_jobs(_encode_one, jobs, workers, "encoding", progress):
        if error is not None:
            skipped.append((name, error))
        elif len(fields["tokens"]) < MIN_NOTES:
            skipped.append((name, f"fewer than {MIN_NOTES} melody notes"))
        else:
            songs.append(Song(name, digest, _melody_from_json(fields)))
    return songs, skipped


def encode_folder(folder, **kwargs):
    """Encode every MIDI file under ``folder``; see :func:`encode_files`."""
    paths = find_midi_files(folder)
    if not paths:
        raise DataError(f"No .mid or .midi files found in '{folder}'. Put your MIDI files there, or pass another --data folder.")
    return encode_files(paths, **kwargs)


def _folk_file_melodies(job):
    """All tunes of one music21 corpus file, through the cache."""
    path, config, cache_dir = job
    data = Path(path).read_bytes()
    digest, key = _cache_key(data, config)
    cache_file = cache_dir / "folk" / f"{key}.json" if cache_dir else None
    cached = _read_cache(cache_file) if cache_file else None
    if cached is not None:
        return cached
    import music21  # imported here: slow to import and only needed for this corpus

    tunes = []
    try:
        parsed = music21.converter.parse(path)
    except Exception as exc:  # a corpus file music21 itself cannot parse is skipped, not fatal
        return {"tunes": [], "error": f"{type(exc).__name__}: {exc}"}
    scores = parsed.scores if isinstance(parsed, music21.stream.Opus) else [parsed]
    for number, score in enumerate(scores):
        steps, pitches, weights = [], [], []
        for element in score.flatten().notes:
            top = max(p.midi for p in element.pitches)
            steps.append(int(round(float(element.offset) * config.steps_per_quarter)))
            pitches.append(top)
            weights.append(min(float(element.quarterLength), 4.0) or 1e-3)
        name = f"{os.path.basename(path)}#{number + 1}"
        melody = melody_from_events(steps, pitches, weights, config=config, source=name)
        tunes.append({"name": name, "digest": f"{digest}-{number}", "melody": _melody_to_json(melody)})
    payload = {"tunes": tunes, "error": None}
    if cache_file:
        _write_cache(cache_file, payload)
    return payload


def folk_corpus_files(collections=FOLK_COLLECTIONS):
    """The ABC files of music21's bundled folk collections (Essen folk songs, O'Neill's, Ryan's Mammoth)."""
    import music21

    root = Path(music21.__file__).parent / "corpus"
    return sorted(p for c in collections for p in (root / c).rglob("*.abc"))


def encode_folk_corpus(config=EncodingConfig(), cache_dir="default", workers=None, progress=True):
    """Encode music21's bundled folk collections; returns ``(songs, skipped)`` like :func:`encode_files`."""
    cache_dir = default_cache_dir() if cache_dir == "default" else (Path(cache_dir) if cache_dir else None)
    jobs = [(str(p), config, cache_dir) for p in folk_corpus_files()]
    songs, skipped = [], []
    for job, payload in zip(jobs, _run_jobs(_folk_file_melodies, jobs, workers, "encoding folk corpus", progress)):
        if payload["error"]:
            skipped.append((os.path.basename(job[0]), payload["error"]))
        for tune in payload["tunes"]:
            if len(tune["melody"]["tokens"]) >= MIN_NOTES:
                songs.append(Song(tune["name"], tune["digest"], _melody_from_json(tune["melody"])))
    return songs, skipped


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
