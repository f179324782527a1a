import os
import pickle
import shutil
import struct
import time
import zipfile
from pathlib import Path

import pytest
import torch
from small_models import small_rhythm

import melody
from melody import CheckpointError, load_model
from melody.model import checkpoint as ckpt
from melody.model.network import MelodyLSTM, ModelConfig
from melody.music.encoding import EncodingConfig


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
    ckpt.atomic_save(payload, tmp_path / "bad.pt")  # with its own checksum: whole, but for another model
    with pytest.raises(CheckpointError, match="does not match"):
        load_model(tmp_path / "bad.pt")
    payload["format_version"] = 99
    ckpt.atomic_save(payload, tmp_path / "new.pt")
    with pytest.raises(CheckpointError, match="newer version"):
        load_model(tmp_path / "new.pt")
    with pytest.raises(CheckpointError, match="does not exist"):
        load_model(tmp_path / "missing.pt")


def test_pickled_objects_are_refused(tmp_path):
    torch.save({"format": ckpt.FORMAT, "evil": EncodingConfig()}, tmp_path / "pickle.pt")
    with pytest.raises(CheckpointError, match="weights-only"):
        load_model(tmp_path / "pickle.pt")


class RunsCode:
    def __reduce__(self):
        return (os.system, ("echo this must never run",))


@pytest.mark.parametrize("write", [
    lambda path: torch.save({"format": ckpt.FORMAT, "x": RunsCode()}, path),  # torch's zip format
    lambda path: path.write_bytes(pickle.dumps(RunsCode(), protocol=4)),  # a bare pickle
    lambda path: path.write_bytes(pickle.dumps(RunsCode(), protocol=2)),
])
def test_a_malicious_pickle_is_called_code_and_unsafe_loading_is_never_suggested(tmp_path, write, capfd):
    path = tmp_path / "evil.pt"
    write(path)
    with pytest.raises(CheckpointError) as info:
        load_model(path)
    message = str(info.value)
    assert "holds code or Python objects" in message and "refused" in message
    assert "weights_only" not in message and "damaged" not in message
    assert "must never run" not in capfd.readouterr().out


def save_unfinished(path, hidden=24):
    save_small(path, hidden=hidden, finished=False)


def test_damaged_or_unfinished_newer_checkpoints_are_passed_over(tmp_path, monkeypatch, caplog):
    monkeypatch.setattr(ckpt, "CHECKPOINT_DIR", tmp_path)
    save_small(tmp_path / "good.pt", hidden=16, finished=True)
    save_unfinished(tmp_path / "training.pt", hidden=20)
    (tmp_path / "broken.pt").write_bytes(b"PK\x03\x04 damaged")
    for age, name in enumerate(["broken.pt", "training.pt", "good.pt"]):
        os.utime(tmp_path / name, (time.time() - age * 10, time.time() - age * 10))
    path, skipped = ckpt.default_checkpoint()
    assert path.name == "good.pt"
    assert [name for name, _ in skipped] == ["broken.pt", "training.pt"]
    assert "damaged" in skipped[0][1] and "not finished" in skipped[1][1]
    with caplog.at_level("WARNING", logger="melody"):
        assert load_model().config.hidden_size == 16
    assert "broken.pt passed over" in caplog.text


def test_an_unfinished_checkpoint_is_used_only_when_nothing_else_loads_and_it_says_so(tmp_path, monkeypatch):
    monkeypatch.setattr(ckpt, "CHECKPOINT_DIR", tmp_path)
    save_unfinished(tmp_path / "training.pt")
    path, skipped = ckpt.default_checkpoint()
    assert path.name == "training.pt" and "used anyway" in skipped[-1][1]
    (tmp_path / "training.pt").write_bytes(b"garbage")
    with pytest.raises(CheckpointError, match="can be loaded"):
        ckpt.default_checkpoint()


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


def test_of_checkpoints_written_together_the_rhythm_one_wins_but_a_newer_one_beats_it(tmp_path, monkeypatch):
    from melody.music.encoding import RHYTHM
    from melody.train.command import model_config_for

    monkeypatch.setattr(ckpt, "CHECKPOINT_DIR", tmp_path)
    rhythm = MelodyLSTM(model_config_for(RHYTHM, embedding_size=8, hidden_size=16, num_layers=1))
    ckpt.atomic_save(ckpt.checkpoint_payload(rhythm, RHYTHM), tmp_path / "z-rhythm.pt")
    save_small(tmp_path / "a-classic.pt", hidden=20)
    then = time.time() - 200
    os.utime(tmp_path / "z-rhythm.pt", (then, then))  # as a clone writes them, a moment apart
    os.utime(tmp_path / "a-classic.pt", (then + 0.5, then + 0.5))
    assert ckpt.default_checkpoint()[0].name == "z-rhythm.pt"
    save_small(tmp_path / "mine.pt", hidden=24)  # trained later: the newest wins
    assert ckpt.default_checkpoint()[0].name == "mine.pt"


ROOT = Path(__file__).resolve().parents[2]


def flip_a_weight_byte(path):
    """Flip one bit in the middle of the largest tensor's bytes, inside torch's zip file (stored,
    not compressed): what a failing disk or a bad copy does, and what torch.load does not notice."""
    with zipfile.ZipFile(path) as archive:
        member = max((i for i in archive.infolist() if "/data/" in i.filename), key=lambda i: i.file_size)
    with open(path, "r+b") as handle:
        handle.seek(member.header_offset + 26)
        name_length, extra_length = struct.unpack("<HH", handle.read(4))
        where = member.header_offset + 30 + name_length + extra_length + member.file_size // 2
        handle.seek(where)
        byte = handle.read(1)[0]
        handle.seek(where)
        handle.write(bytes([byte ^ 0x10]))


def test_a_flipped_bit_in_the_weights_is_refused_and_says_what_to_do(tmp_path):
    damaged = tmp_path / "rhythm.pt"
    shutil.copy(ROOT / "checkpoints" / "rhythm.pt", damaged)
    flip_a_weight_byte(damaged)
    assert isinstance(torch.load(damaged, weights_only=True), dict)  # torch itself loads it without a word
    with pytest.raises(CheckpointError) as info:
        load_model(damaged)
    message = str(info.value)
    assert message.startswith("'rhythm.pt' is damaged: its contents differ from the checksum") and "\n" not in message
    assert "git checkout -- checkpoints/rhythm.pt" in message and "train it again" in message


def test_the_default_passes_over_a_damaged_shipped_model(tmp_path, monkeypatch, caplog):
    from melody.music.encoding import RHYTHM
    from melody.train.command import model_config_for

    monkeypatch.setattr(ckpt, "CHECKPOINT_DIR", tmp_path)
    monkeypatch.delenv(ckpt.CHOICE_VARIABLE, raising=False)
    rhythm = MelodyLSTM(model_config_for(RHYTHM, embedding_size=8, hidden_size=16, num_layers=1))
    ckpt.atomic_save(ckpt.checkpoint_payload(rhythm, RHYTHM), tmp_path / "rhythm.pt")
    save_small(tmp_path / "classic.pt", hidden=20)
    assert ckpt.default_checkpoint() == (tmp_path / "rhythm.pt", [])
    flip_a_weight_byte(tmp_path / "rhythm.pt")
    path, skipped = ckpt.default_checkpoint()
    assert path.name == "classic.pt"
    assert [name for name, _ in skipped] == ["rhythm.pt"] and "is damaged: its contents differ" in skipped[0][1]
    with caplog.at_level("WARNING", logger="melody"):
        assert load_model().config.hidden_size == 20
    assert "rhythm.pt passed over" in caplog.text


def test_every_save_writes_a_checksum_and_files_from_before_checksums_still_load(tmp_path):
    path = tmp_path / "m.pt"
    save_small(path)
    payload = torch.load(path, weights_only=True)
    assert payload["sha256"] == ckpt.contents_digest(payload)
    assert ckpt.contents_digest(dict(payload, command="python train.py --other")) != payload["sha256"]
    del payload["sha256"]
    torch.save(payload, tmp_path / "old.pt")  # as every checkpoint was written before
    assert load_model(tmp_path / "old.pt").config.hidden_size == 24
    for name in ("rhythm.pt", "classic.pt"):  # the shipped ones were given theirs, weights unchanged
        shipped = ckpt.read_file(ROOT / "checkpoints" / name, ckpt.FORMAT)
        assert shipped["sha256"] == ckpt.contents_digest(shipped)


def test_a_trained_checkpoint_is_the_default_only_once_chosen(tmp_path, monkeypatch):
    """The shipped rhythm.pt stays the default when a newer checkpoint is trained; MELODY_CHECKPOINT
    (a name or a path) chooses another, which must be there and load (issue 21, 11h)."""
    monkeypatch.setattr(ckpt, "CHECKPOINT_DIR", tmp_path)
    monkeypatch.delenv(ckpt.CHOICE_VARIABLE, raising=False)
    small_rhythm(tmp_path / "rhythm.pt", hidden=16)
    save_small(tmp_path / "classic.pt", hidden=20)
    os.utime(tmp_path / "rhythm.pt", (time.time() - 500, time.time() - 500))
    small_rhythm(tmp_path / "mine-20261207.pt", hidden=24)  # trained just now: the newest
    assert ckpt.default_checkpoint() == (tmp_path / "rhythm.pt", [])
    assert load_model().config.hidden_size == 16
    monkeypatch.setenv(ckpt.CHOICE_VARIABLE, "mine-20261207.pt")
    assert load_model().config.hidden_size == 24
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    small_rhythm(elsewhere / "far.pt", hidden=12)
    monkeypatch.setenv(ckpt.CHOICE_VARIABLE, str(elsewhere / "far.pt"))  # a path: also listed, for the page
    assert load_model().config.hidden_size == 12 and "far.pt" in [p.name for p in melody.list_checkpoints()]
    monkeypatch.setenv(ckpt.CHOICE_VARIABLE, "nowhere.pt")
    with pytest.raises(CheckpointError, match="MELODY_CHECKPOINT is 'nowhere.pt', which is not one of the checkp"):
        load_model()
    flip_a_weight_byte(tmp_path / "mine-20261207.pt")
    monkeypatch.setenv(ckpt.CHOICE_VARIABLE, "mine-20261207.pt")
    with pytest.raises(CheckpointError, match="damaged"):  # chosen, so never replaced quietly
        ckpt.default_checkpoint()
