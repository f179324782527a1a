import os

import pytest
import torch

import melody
import train as train_cli
from melody import checkpoint as ckpt
from melody.training import state_path_for
from midi_factory import SMALL_TRAINING_FLAGS, write_small_corpus



@pytest.fixture
def corpus(tmp_path, monkeypatch):
    monkeypatch.setenv("MELODY_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(ckpt, "CHECKPOINT_DIR", tmp_path / "checkpoints")
    folder = tmp_path / "midi"
    write_small_corpus(folder)
    (folder / "broken.mid").write_bytes(b"MThd garbage")
    return folder


def test_short_training_run_end_to_end(corpus, tmp_path, capsys):
    out = tmp_path / "model.pt"
    train_cli.main(["--data", str(corpus), "--out", str(out), "--epochs", "3", *SMALL_TRAINING_FLAGS])
    model = melody.load_model(out)
    assert model.config.hidden_size == 24 and model.config.num_layers == 1
    info = model.info
    assert info["finished"] is True
    assert info["data"]["files"] == 18 and info["data"]["skipped_files"] == 1
    assert info["data"]["skipped"][0][0] == "broken.mid"
    assert info["command"].startswith("python train.py --data")
    metrics = info["metrics"]
    assert len(metrics["history"]) == 3
    best = min(h["val_bits_per_note"] for h in metrics["history"])
    assert metrics["val_bits_per_note"] == pytest.approx(best, abs=1e-4)
    assert metrics["val_bits_per_note"] < 5.0  # below log2(37) = 5.2 of an untrained model: it learned
    assert "test_bits_per_note" in metrics and "trigram_test_bits_per_note" in metrics
    assert len(melody.generate(model, [60, 62, 64], 10, rng_seed=1)[0]) == 10
    printed = capsys.readouterr().out
    assert "Skipped 1 unreadable" in printed and "broken.mid" in printed


def test_default_output_is_a_new_file_and_becomes_the_default(corpus, tmp_path):
    folder = ckpt.CHECKPOINT_DIR
    folder.mkdir()
    first = folder / "previous.pt"
    train_cli.main(["--data", str(corpus), "--out", str(first), "--epochs", "1", *SMALL_TRAINING_FLAGS])
    os.utime(first, (1, 1))
    before = first.read_bytes()
    train_cli.main(["--data", str(corpus), "--epochs", "1", *SMALL_TRAINING_FLAGS])
    files = sorted(p.name for p in melody.list_checkpoints())
    assert len(files) == 2 and "previous.pt" in files
    assert first.read_bytes() == before  # the previous checkpoint is kept as it was
    assert melody.load_model().path.name != "previous.pt"


def test_existing_output_is_never_overwritten(corpus, tmp_path):
    out = tmp_path / "model.pt"
    out.write_bytes(b"precious")
    with pytest.raises(melody.MelodyError, match="already exists"):
        train_cli.main(["--data", str(corpus), "--out", str(out), "--epochs", "1", *SMALL_TRAINING_FLAGS])
    assert out.read_bytes() == b"precious"


def test_resume_continues_with_optimiser_state(corpus, tmp_path):
    out = tmp_path / "model.pt"
    train_cli.main(["--data", str(corpus), "--out", str(out), "--epochs", "2", *SMALL_TRAINING_FLAGS])
    state = torch.load(state_path_for(out), weights_only=True)
    assert state["epoch"] == 2 and state["optimizer_state"]["state"]
    train_cli.main(["--resume", str(out), "--epochs", "4", "--quiet"])
    resumed = torch.load(state_path_for(out), weights_only=True)
    assert resumed["epoch"] == 4
    assert [h["epoch"] for h in resumed["history"]] == [1, 2, 3, 4]
    assert resumed["history"][:2] == state["history"]
    assert "resumed with" in melody.load_model(out).info["command"]


def test_data_midi_folder_is_the_default(corpus, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    os.makedirs("data")
    os.rename(corpus, "data/midi")
    train_cli.main(["--out", str(tmp_path / "m.pt"), "--epochs", "1", *SMALL_TRAINING_FLAGS])
    assert melody.load_model(tmp_path / "m.pt").info["data"]["source"] == "data/midi"


def test_folder_without_midi_is_a_clear_error(tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    assert train_cli.cli(["--data", str(tmp_path / "empty")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: No .mid or .midi files") and "Traceback" not in err


def test_fine_tuning_starts_from_the_weights_and_keeps_both_indexes(corpus, tmp_path):
    first = tmp_path / "pre.pt"
    train_cli.main(["--data", str(corpus), "--out", str(first), "--epochs", "1", *SMALL_TRAINING_FLAGS])
    pretrained = melody.load_model(first)
    other = tmp_path / "other"
    other.mkdir()
    for path in sorted(corpus.glob("ode-*.mid")):
        (other / f"again-{path.name}").write_bytes(path.read_bytes())
    tuned_path = tmp_path / "tuned.pt"
    train_cli.main(["--data", str(other), "--out", str(tuned_path), "--init-from", str(first), "--epochs", "1",
                    "--quiet", "--workers", "1"])
    tuned = melody.load_model(tuned_path)
    assert tuned.config == pretrained.config  # the size comes from the checkpoint
    names = tuned.info["originality"]["names"]
    assert names[: len(pretrained.info["originality"]["names"])] == pretrained.info["originality"]["names"]
    assert any(n.startswith("again-") for n in names)
    assert "--init-from" in tuned.info["command"]


def test_without_data_it_trains_on_musics21_folk_songs(tmp_path, monkeypatch, capsys):
    from melody import corpus

    monkeypatch.setenv("MELODY_CACHE", str(tmp_path / "cache"))
    monkeypatch.chdir(tmp_path)  # no data/midi here
    real = corpus.folk_corpus_files
    monkeypatch.setattr(corpus, "folk_corpus_files", lambda: [p for p in real() if p.name == "testd.abc"])
    train_cli.main(["--out", str(tmp_path / "folk.pt"), "--epochs", "1", *SMALL_TRAINING_FLAGS])
    assert "music21's bundled folk songs" in capsys.readouterr().out
    model = melody.load_model(tmp_path / "folk.pt")
    assert model.info["data"]["source"] == "folk" and model.info["data"]["files"] >= 3
