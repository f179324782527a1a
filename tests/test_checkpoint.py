import os
import time

import pytest
import torch

import melody
from melody import CheckpointError, load_model
from melody import checkpoint as ckpt
from melody.encoding import EncodingConfig
from melody.model import MelodyLSTM, ModelConfig


def save_small(path, hidden=24, **info):
    torch.manual_seed(0)
    model = MelodyLSTM(ModelConfig(embedding_size=8, hidden_size=hidden, num_layers=2, dropout=0.1))
    ckpt.atomic_save(ckpt.checkpoint_payload(model, EncodingConfig(), **info), path)
    return model


def test_round_trip_keeps_weights_and_settings(tmp_path):
    path = tmp_path / "m.pt"
    original = save_small(path, metrics={"val_bits_per_note": 3.5}, command="python train.py --x")
    loaded = load_model(path)
    assert loaded.config.hidden_size == 24 and loaded.config.num_layers == 2
    assert loaded.encoding == EncodingConfig()
    assert loaded.info["metrics"]["val_bits_per_note"] == 3.5
    assert loaded.info["command"] == "python train.py --x"
    assert loaded.info["vocabulary"] == list(range(54, 91))
    x = torch.randint(0, 37, (2, 9))
    original.eval()
    assert torch.allclose(original(x)[0], loaded(x)[0])
    assert not loaded.training


def test_checkpoint_loads_with_weights_only(tmp_path):
    save_small(tmp_path / "m.pt")
    payload = torch.load(tmp_path / "m.pt", weights_only=True)
    assert payload["format"] == ckpt.FORMAT and "model_state" in payload


@pytest.mark.parametrize(
    "damage, words",
    [
        (lambda b: b[: len(b) // 2], "damaged or truncated"),
        (lambda b: b"not a checkpoint at all", "damaged or truncated"),
        (lambda b: b"", "damaged or truncated"),
    ],
)
def test_damaged_checkpoint_is_a_clear_error(tmp_path, damage, words):
    path = tmp_path / "m.pt"
    save_small(path)
    path.write_bytes(damage(path.read_bytes()))
    with pytest.raises(CheckpointError, match=words):
        load_model(path)


def test_foreign_and_incompatible_files_are_clear_errors(tmp_path):
    torch.save({"weights": torch.zeros(3)}, tmp_path / "other.pt")
    with pytest.raises(CheckpointError, match="not a melody-playground"):
        load_model(tmp_path / "other.pt")
    save_small(tmp_path / "m.pt")
    payload = torch.load(tmp_path / "m.pt", weights_only=True)
    payload["model_config"]["hidden_size"] = 99
    torch.save(payload, tmp_path / "bad.pt")
    with pytest.raises(CheckpointError, match="does not match"):
        load_model(tmp_path / "bad.pt")
    payload["format_version"] = 99
    torch.save(payload, tmp_path / "new.pt")
    with pytest.raises(CheckpointError, match="newer version"):
        load_model(tmp_path / "new.pt")
    with pytest.raises(CheckpointError, match="does not exist"):
        load_model(tmp_path / "missing.pt")


def test_pickled_objects_are_refused(tmp_path):
    torch.save({"format": ckpt.FORMAT, "evil": EncodingConfig()}, tmp_path / "pickle.pt")
    with pytest.raises(CheckpointError, match="weights-only"):
        load_model(tmp_path / "pickle.pt")


def test_failed_write_keeps_the_previous_checkpoint(tmp_path):
    path = tmp_path / "m.pt"
    save_small(path)
    before = path.read_bytes()
    with pytest.raises(AttributeError, match="pickle"):
        ckpt.atomic_save({"bad": lambda: 0}, path)  # cannot be pickled: fails mid-write
    assert path.read_bytes() == before
    assert os.listdir(tmp_path) == ["m.pt"]


def test_default_is_the_newest_checkpoint(tmp_path, monkeypatch):
    monkeypatch.setattr(ckpt, "CHECKPOINT_DIR", tmp_path)
    save_small(tmp_path / "old.pt", hidden=16)
    time.sleep(0.02)
    save_small(tmp_path / "new.pt", hidden=20)
    os.utime(tmp_path / "old.pt", (time.time() - 100, time.time() - 100))
    assert load_model().config.hidden_size == 20
    assert [p.name for p in melody.list_checkpoints()] == ["new.pt", "old.pt"]


def test_no_checkpoint_says_how_to_get_one(tmp_path, monkeypatch):
    monkeypatch.setattr(ckpt, "CHECKPOINT_DIR", tmp_path)
    with pytest.raises(CheckpointError, match="train.py"):
        load_model()
