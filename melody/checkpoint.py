"""Checkpoint files: one file holds the weights and everything needed to rebuild and use the model.

Files are written atomically (temporary file, fsync, rename), so an interrupted write never
leaves a half-written checkpoint behind, and read with ``torch.load(weights_only=True)``.
"""
import datetime
import os
import sys
from pathlib import Path

import torch

from .encoding import EncodingConfig
from .errors import CheckpointError
from .model import MelodyLSTM, ModelConfig

FORMAT = "melody-playground-checkpoint"
STATE_FORMAT = "melody-playground-training-state"
FORMAT_VERSION = 1
CHECKPOINT_DIR = Path(os.environ.get("MELODY_CHECKPOINT_DIR", Path(__file__).resolve().parent.parent / "checkpoints"))
RETRAIN_HINT = "Pick another checkpoint, or train one with `python train.py`."


def atomic_save(obj, path):
    """``torch.save`` to a temporary file beside ``path``, then rename it over ``path``."""
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


def read_file(path, expected_format):
    """Load and sanity-check a checkpoint or training-state file; raises ``CheckpointError``."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"Checkpoint '{path}' does not exist. {RETRAIN_HINT}")
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises RuntimeError, EOFError, UnpicklingError... on damaged files
        if "Unsupported global" in str(exc):
            raise CheckpointError(
                f"'{path.name}' holds objects other than tensors and plain data, so it is not loaded (only "
                f"weights-only checkpoints are trusted). {RETRAIN_HINT}"
            ) from None
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise CheckpointError(f"'{path.name}' is damaged or truncated and cannot be loaded ({reason}). {RETRAIN_HINT}") from None
    if not isinstance(payload, dict) or payload.get("format") != expected_format:
        raise CheckpointError(f"'{path.name}' is not a melody-playground {expected_format.split('-')[-1]} file. {RETRAIN_HINT}")
    if payload.get("format_version", 0) > FORMAT_VERSION:
        raise CheckpointError(
            f"'{path.name}' was written by a newer version of this project (format {payload['format_version']}). "
            "Update the project, or pick another checkpoint."
        )
    return payload


def build_model(payload, name="checkpoint"):
    """A ``MelodyLSTM`` in eval mode from a loaded payload (``model_config`` + ``model_state``)."""
    try:
        config = ModelConfig(**payload["model_config"])
        model = MelodyLSTM(config)
        state = dict(payload["model_state"])
        state.setdefault("memory_weights", model.memory_weights)  # saved before the song memory existed
        model.load_state_dict(state)
    except (KeyError, TypeError, RuntimeError) as exc:
        reason = " ".join(line.strip() for line in str(exc).splitlines())[:300]
        raise CheckpointError(f"'{name}' does not match this version's model ({reason}). {RETRAIN_HINT}") from None
    return model.eval()


def newest_checkpoint(folder=None):
    """Path of the most recently written ``.pt`` checkpoint in ``folder`` (default ``checkpoints/``)."""
    files = list_checkpoints(folder)
    if not files:
        raise CheckpointError(f"No checkpoint found in '{folder or CHECKPOINT_DIR}'. Train one with `python train.py`.")
    return max(files, key=lambda p: p.stat().st_mtime)


def list_checkpoints(folder=None):
    """The ``.pt`` checkpoints in ``folder`` (default ``checkpoints/``), by name."""
    folder = Path(folder or CHECKPOINT_DIR)
    return sorted(p for p in folder.glob("*.pt") if p.is_file() and not p.name.startswith("."))


def load_model(path=None):
    """Load a trained model.

    Parameters
    ----------
    path : str or os.PathLike, optional
        A checkpoint file. ``None`` loads the default: the newest checkpoint in ``checkpoints/``,
        which is the shipped ``pokemon.pt`` until you train your own.

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
