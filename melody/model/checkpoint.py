"""Checkpoint files: one file holds the weights and everything needed to rebuild and use the model.

Files are written atomically (temporary file, fsync, rename), so an interrupted write never
leaves a half-written checkpoint behind, with a SHA-256 checksum of their contents, and read with
``torch.load(weights_only=True)``; a file that no longer matches its checksum (a flipped bit on a
disk or in a copy, which torch itself does not notice) is refused instead of quietly generating from
damaged weights.
"""
import datetime
import hashlib
import logging
import os
import pickletools
import sys
import warnings
import zipfile
from dataclasses import asdict, dataclass, fields
from pathlib import Path

import torch

from ..errors import CheckpointError, MelodyError
from ..music.encoding import EncodingConfig
from .network import MelodyLSTM, ModelConfig

FORMAT = "melody-playground-checkpoint"
STATE_FORMAT = "melody-playground-training-state"
FORMAT_VERSION = 1
PACKAGE_DIR = Path(__file__).resolve().parent.parent  # melody/
SHIPPED_DIR = PACKAGE_DIR / "shipped"  # the shipped weights, where an installed package keeps them


def _checkpoint_dir():
    """Where checkpoints are listed from and training writes them: ``$MELODY_CHECKPOINT_DIR``, else the
    repository's ``checkpoints/`` when running from a checkout, else the user's data folder
    (``~/.local/share/melody-playground/checkpoints``) for an installed package."""
    if os.environ.get("MELODY_CHECKPOINT_DIR"):
        return Path(os.environ["MELODY_CHECKPOINT_DIR"])
    checkout = PACKAGE_DIR.parent / "checkpoints"
    if checkout.is_dir() and (PACKAGE_DIR.parent / "train.py").is_file():
        return checkout
    data = Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share")
    return data / "melody-playground" / "checkpoints"


CHECKPOINT_DIR = _checkpoint_dir()
SHIPPED_DEFAULT = "rhythm.pt"  # the default checkpoint until the user chooses another
CHOICE_VARIABLE = "MELODY_CHECKPOINT"  # the user's choice of default checkpoint: a file name or a path
RETRAIN_HINT = "Pick another checkpoint, or train one with `python train.py`."
CHECKSUM = "sha256"  # the key of a file's checksum
log = logging.getLogger("melody")


def contents_digest(payload):
    """SHA-256 (hex) of a checkpoint or training-state dict, all but its checksum: the weights, the
    index and every setting. Tensors count by dtype, shape and bytes; dicts in the order of their keys."""
    digest = hashlib.sha256()

    def feed(value):
        if isinstance(value, torch.Tensor):
            tensor = value.detach().cpu().contiguous()
            digest.update(f"T{tensor.dtype}{tuple(tensor.shape)}:".encode())
            digest.update(tensor.reshape(-1).view(torch.uint8).numpy().tobytes())
        elif isinstance(value, dict):
            digest.update(f"D{len(value)}:".encode())
            for key in sorted(value, key=repr):
                feed(key)
                feed(value[key])
        elif isinstance(value, (list, tuple)):
            digest.update(f"{type(value).__name__}{len(value)}:".encode())
            for item in value:
                feed(item)
        else:
            digest.update(f"{type(value).__name__}:{value!r};".encode())

    feed({key: value for key, value in payload.items() if key != CHECKSUM})
    return digest.hexdigest()


def atomic_save(obj, path):
    """``torch.save`` to a temporary file beside ``path``, then rename it over ``path``. A checkpoint
    or training state (a dict with ``model_state``) is written with the checksum of its contents
    (``sha256``), which :func:`read_file` verifies."""
    if isinstance(obj, dict) and "model_state" in obj:
        obj = dict(obj, **{CHECKSUM: contents_digest(obj)})
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with open(tmp, "wb") as handle:
            torch.save(obj, handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


def check_writable(folder):
    """Raise ``MelodyError`` with one line when checkpoints cannot be written into ``folder`` (made if
    missing) and its ``.resume/`` (the training state): a file is made and renamed in each, as
    :func:`atomic_save` will. A training run checks this before it reads any data, rather than
    failing after its first epoch."""
    folder = Path(folder)
    for place in (folder, folder / ".resume"):
        try:
            place.mkdir(parents=True, exist_ok=True)
            trial = place / f".write-check.{os.getpid()}.tmp"
            trial.write_bytes(b"")
            os.replace(trial, trial.with_name(trial.name + ".renamed"))
            trial.with_name(trial.name + ".renamed").unlink()
        except OSError as exc:
            blocking = next((p for p in [place, *place.parents] if p.exists() and not p.is_dir()), None)
            reason = f"'{blocking}' is a file, not a folder" if blocking else (exc.strerror or str(exc)).lower()
            raise MelodyError(f"Cannot write checkpoints into '{folder}' ({reason}): choose an --out in a folder "
                              "you can write to.") from None


def read_file(path, expected_format):
    """Load and sanity-check a checkpoint or training-state file; raises ``CheckpointError``."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"Checkpoint '{path}' does not exist. {RETRAIN_HINT}")
    try:
        with warnings.catch_warnings():  # torch warns about pickle protocols before refusing: our message says it
            warnings.simplefilter("ignore")
            payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises RuntimeError, EOFError, UnpicklingError... on damaged files
        raise CheckpointError(_load_failure(path, exc)) from None
    if not isinstance(payload, dict) or payload.get("format") != expected_format:
        raise CheckpointError(f"'{path.name}' is not a melody-playground {expected_format.split('-')[-1]} file. {RETRAIN_HINT}")
    if payload.get("format_version", 0) > FORMAT_VERSION:
        raise CheckpointError(
            f"'{path.name}' was written by a newer version of this project (format {payload['format_version']}). "
            "Update the project, or pick another checkpoint."
        )
    _check_contents(payload, path)
    return payload


def _check_contents(payload, path):
    """Refuse a file whose contents differ from the checksum written with them (files from before
    checksums have none, and load as they are)."""
    if CHECKSUM in payload and contents_digest(payload) != payload[CHECKSUM]:
        raise CheckpointError(
            f"'{path.name}' is damaged: its contents differ from the checksum written with them (the file changed "
            f"after it was saved, e.g. a disk or copy error). Restore it (a shipped checkpoint: `git checkout -- "
            f"checkpoints/{path.name}`, or reinstall the package), download or copy it again, or train it again.")


def _load_failure(path, exc):
    """The message for a file ``torch.load(weights_only=True)`` refused. torch's own text advises
    loading with ``weights_only=False``, which would run whatever code the file carries: never
    repeat it."""
    text = str(exc)
    if "unsupported global" in text.lower() or _calls_code(path):
        return (f"'{path.name}' holds code or Python objects other than tensors and plain data, which are refused: "
                f"only weights-only checkpoints are loaded, so that no file can run code here. {RETRAIN_HINT}")
    reason = next((line.strip() for line in text.splitlines() if line.strip()), type(exc).__name__)
    if "weights_only" in reason:
        reason = type(exc).__name__
    return f"'{path.name}' is damaged or truncated and cannot be loaded ({reason[:200]}). {RETRAIN_HINT}"


CODE_OPCODES = {"GLOBAL", "STACK_GLOBAL", "INST", "OBJ", "REDUCE", "NEWOBJ", "NEWOBJ_EX"}


def _calls_code(path):
    """Whether the file is a complete pickle (bare, or the ``data.pkl`` of torch's zip format) that
    names Python callables: a file meant to run code when loaded, rather than a damaged one. The
    opcodes are only listed (``pickletools``), never executed."""
    try:
        data = Path(path).read_bytes()
        if zipfile.is_zipfile(path):
            with zipfile.ZipFile(path) as archive:
                name = next((n for n in archive.namelist() if n.endswith("data.pkl")), None)
                data = archive.read(name) if name else b""
        return bool(CODE_OPCODES & {op.name for op, _, _ in pickletools.genops(data)})
    except Exception:  # not a readable pickle: damaged, not malicious
        return False


def build_model(payload, name="checkpoint"):
    """A ``MelodyLSTM`` in eval mode from a loaded payload (``model_config`` + ``model_state``)."""
    try:
        config = ModelConfig(**payload["model_config"])
        model = MelodyLSTM(config)
        state = dict(payload["model_state"])
        state.setdefault("memory_weights", model.memory_weights)  # saved before the song memory existed
        if state.get("echo_weights") is None or state["echo_weights"].shape != model.echo_weights.shape:
            state["echo_weights"] = model.echo_weights  # saved before the echo existed, or with other lags: unused
        if state.get("form_plan") is None or state["form_plan"].shape != model.form_plan.shape:
            state["form_plan"] = model.form_plan  # saved before the form plan existed: no plan
        if state.get("length_calibration") is None or state["length_calibration"].shape != model.length_calibration.shape:
            state["length_calibration"] = model.length_calibration  # saved before the calibration: none
        model.load_state_dict(state)
    except (KeyError, TypeError, RuntimeError) as exc:
        reason = " ".join(line.strip() for line in str(exc).splitlines())[:300]
        raise CheckpointError(f"'{name}' does not match this version's model ({reason}). {RETRAIN_HINT}") from None
    return model.eval()


def list_checkpoints(folder=None):
    """The ``.pt`` checkpoints in ``folder``, by name. The default is ``CHECKPOINT_DIR`` together with
    the shipped weights of an installed package (a file of the same name in ``CHECKPOINT_DIR`` wins),
    and the file ``$MELODY_CHECKPOINT`` names when it is a path to a checkpoint elsewhere."""
    folders = [Path(folder)] if folder else [Path(CHECKPOINT_DIR), SHIPPED_DIR]
    found = {}
    chosen = Path(os.environ.get(CHOICE_VARIABLE) or ".").expanduser()
    if folder is None and chosen.name != str(chosen) and chosen.suffix == ".pt" and chosen.is_file():
        found[chosen.name] = chosen
    for place in folders:
        for path in sorted(place.glob("*.pt")) if place.is_dir() else []:
            if path.is_file() and not path.name.startswith("."):
                found.setdefault(path.name, path)
    return [found[name] for name in sorted(found)]


_PROBED = {}  # (path, mtime, size) -> info dict or CheckpointError: each file version is read once


def probe(path):
    """The ``info`` of the checkpoint at ``path`` (what ``load_model(path).info`` holds), read once
    per version of the file; raises ``CheckpointError`` when it cannot be loaded."""
    path = Path(path)
    stat = path.stat()
    key = (str(path.resolve()), stat.st_mtime_ns, stat.st_size)
    if key not in _PROBED:
        try:
            model = load_model(path)
            _PROBED[key] = dict(model.info, encoding_kind=model.encoding.kind)
        except CheckpointError as exc:
            _PROBED[key] = exc
        for old in [k for k in _PROBED if k[0] == key[0] and k != key]:
            del _PROBED[old]
    found = _PROBED[key]
    if isinstance(found, CheckpointError):
        raise found
    return found


def default_checkpoint(folder=None):
    """The checkpoint used when none is named, and the ones passed over.

    The one ``$MELODY_CHECKPOINT`` names (a file name among the checkpoints, or a path to one), which
    must load; else the shipped ``rhythm.pt``: a checkpoint you train never becomes the default by
    itself. When there is no ``rhythm.pt``, or it cannot be loaded (it is passed over, and ``skipped``
    says why), the newest file (by modification time) that loads and whose training run finished;
    a checkpoint a training run is still writing (or left behind when interrupted) is passed over too.
    When no finished checkpoint loads, the newest unfinished one is used, and ``skipped`` says so.

    Returns
    -------
    (path, skipped) : (Path, list of (file name, reason))

    Raises
    ------
    CheckpointError
        When ``$MELODY_CHECKPOINT`` names a file that is not there or cannot be loaded, or no
        checkpoint can be loaded.
    """
    files = list_checkpoints(folder)
    folder = Path(folder or CHECKPOINT_DIR)
    if not files:
        raise CheckpointError(f"No checkpoint found in '{folder}'. Train one with `python train.py`.")
    if os.environ.get(CHOICE_VARIABLE):
        chosen = chosen_checkpoint(files, folder)
        probe(chosen)  # a checkpoint the user chose is never replaced quietly: its problem is the error
        return chosen, []
    skipped, unfinished = [], None
    shipped = [p for p in files if p.name == SHIPPED_DEFAULT]
    for path in shipped + newest_first([p for p in files if p.name != SHIPPED_DEFAULT]):
        try:
            info = probe(path)
        except CheckpointError as exc:
            skipped.append((path.name, str(exc)))
            continue
        if info.get("finished", True):
            return path, skipped
        skipped.append((path.name, "its training run has not finished (still training, or interrupted)"))
        unfinished = unfinished or path
    if unfinished is not None:
        skipped.append((unfinished.name, "used anyway: no finished checkpoint could be loaded"))
        return unfinished, skipped
    reasons = "; ".join(reason for _, reason in skipped)
    raise CheckpointError(f"No checkpoint in '{folder}' can be loaded: {reasons}")


def chosen_checkpoint(files, folder):
    """The checkpoint of ``files`` that ``$MELODY_CHECKPOINT`` names, by file name or by path."""
    value = os.environ[CHOICE_VARIABLE]
    wanted = Path(value).expanduser()
    for path in files:
        if (path.name == value) if wanted.name == value else (path.resolve() == wanted.resolve()):
            return path
    names = ", ".join(p.name for p in files)
    raise CheckpointError(f"{CHOICE_VARIABLE} is '{value}', which is not one of the checkpoints in '{folder}' "
                          f"({names}): set it to one of those names (or a path to a checkpoint), or unset it to use "
                          f"the shipped {SHIPPED_DEFAULT}.")


SAME_TIME_SECONDS = 60  # files written this close together came together (a clone, a copy): see below


def newest_first(paths):
    """Checkpoints, newest first. Those written within a minute of the newest (the shipped ones, as a
    clone or an install writes them) count as equally new, and among them those with the classic
    encoding come last: the shipped rhythm model is the default, not the classic one. (A damaged one
    keeps its place, so that it is tried, passed over and reported.)"""
    def preferred(path):
        try:
            return probe(path).get("encoding_kind") != "classic"
        except CheckpointError:
            return True

    paths = sorted(paths, key=lambda p: p.stat().st_mtime, reverse=True)
    if not paths:
        return paths
    newest = paths[0].stat().st_mtime
    together = [p for p in paths if p.stat().st_mtime >= newest - SAME_TIME_SECONDS]
    return sorted(together, key=lambda p: not preferred(p)) + paths[len(together):]


def newest_checkpoint(folder=None):
    """Path of the default checkpoint (see :func:`default_checkpoint`); each checkpoint passed over
    is reported as a warning on the ``melody`` logger."""
    path, skipped = default_checkpoint(folder)
    for name, reason in skipped:
        log.warning("Checkpoint %s passed over: %s", name, reason)
    return path


def load_model(path=None):
    """Load a trained model.

    Parameters
    ----------
    path : str or os.PathLike, optional
        A checkpoint file. ``None`` loads the default (see :func:`default_checkpoint`): the one
        ``$MELODY_CHECKPOINT`` names, else the shipped ``rhythm.pt``, also after you train your own.

    Returns
    -------
    MelodyLSTM
        In eval mode, with ``.config`` (ModelConfig), ``.encoding`` (EncodingConfig),
        ``.info`` (training data, metrics, command) and ``.path``.
    """
    path = Path(path) if path is not None else newest_checkpoint()
    payload = read_file(path, FORMAT)
    model = build_model(payload, path.name)
    try:
        model.encoding = EncodingConfig(**payload["encoding_config"])
    except (KeyError, TypeError) as exc:
        raise CheckpointError(f"'{path.name}' has no valid encoding settings ({exc}). {RETRAIN_HINT}") from None
    model.info = {k: v for k, v in payload.items() if k not in ("model_state", "model_config", "encoding_config")}
    model.path = path
    return model


@dataclass
class TrainingState:
    """The resumable state of a training run (``<checkpoint folder>/.resume/<name>``): its settings,
    where it writes and from what data, and its progress. One owner of the file's format: the
    trainer writes it with :meth:`save`, ``--resume`` reads it with :func:`read_training_state`."""

    model_config: dict
    encoding_config: dict
    train_config: dict
    checkpoint: str  # as given when the run started (relative to ``cwd``)
    sources: list  # the --data of the run ("folk" or folders, relative to ``cwd``)
    command: str
    cwd: str
    originality: dict
    model_state: dict
    optimizer_state: dict
    scheduler_state: dict
    generator_state: object
    epoch: int
    best_val: float
    bad_epochs: int
    history: list
    elapsed_seconds: float
    saved_because: str = ""
    finished: bool = False

    def save(self, path):
        """Write atomically, with the format's name and version."""
        atomic_save({"format": STATE_FORMAT, "format_version": FORMAT_VERSION, "source": " + ".join(self.sources),
                     **asdict(self)}, path)

    def checkpoint_path(self):
        """The checkpoint this run writes, as a path from the current folder."""
        return Path(self.cwd) / self.checkpoint

    def source_paths(self, folk="folk"):
        """The run's data, folders as paths from the current folder."""
        return [s if s == folk else str(Path(self.cwd) / s) for s in self.sources]


def read_training_state(path):
    """The ``TrainingState`` in ``path``; ``CheckpointError`` for a damaged or foreign file."""
    payload = read_file(path, STATE_FORMAT)
    payload.setdefault("sources", [payload.get("source", "")])  # written before several sources existed
    payload.setdefault("cwd", ".")
    known = {f.name for f in fields(TrainingState)}
    try:
        return TrainingState(**{k: v for k, v in payload.items() if k in known})
    except TypeError as exc:
        raise CheckpointError(f"'{Path(path).name}' is not a complete training state ({exc}). "
                              "Start a new run with `python train.py`.") from None


def checkpoint_payload(model, encoding, **info):
    """The dictionary saved as a checkpoint: weights, settings, vocabulary and ``info`` (data, metrics...)."""
    lowest = encoding.lowest_pitch
    return {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "model_state": {k: v.detach().cpu() for k, v in model.state_dict().items()},
        "model_config": model.config.to_dict(),
        "encoding_config": encoding.to_dict(),
        "vocabulary": list(range(lowest, lowest + model.config.vocab_size)),
        "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "torch_version": str(torch.__version__),
        "python_version": sys.version.split()[0],
        **info,
    }
