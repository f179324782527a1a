import math
import os
import re
import signal
import sys
import time
from pathlib import Path

import pytest
import torch
from midi_factory import SMALL_TRAINING_FLAGS, write_small_corpus

import melody
import train as train_cli
from melody.model import checkpoint as ckpt
from melody.train import training
from melody.train.training import state_path_for

TRAIN_STEP = training.train_step
ROOT = Path(__file__).resolve().parents[2]
ONE_STEP_EPOCHS = ["--notes-per-epoch", "128"]  # with SMALL_TRAINING_FLAGS' 8 crops of 16 notes: one step per epoch


def interrupt_at_step(monkeypatch, step):
    """A real Ctrl-C (SIGINT to this process) during training step number ``step`` of the next run."""
    count = iter(range(1, 10**9))

    def step_then_interrupt(*args):
        loss = TRAIN_STEP(*args)
        if next(count) == step:
            os.kill(os.getpid(), signal.SIGINT)
        return loss

    monkeypatch.setattr(training, "train_step", step_then_interrupt)


def run_interrupted(monkeypatch, corpus, out, step, *flags):
    """``train.py`` on ``corpus`` into ``out``, Ctrl-C at step ``step``; returns its saved state."""
    interrupt_at_step(monkeypatch, step)
    train_cli.main(["--data", str(corpus), "--out", str(out), *ONE_STEP_EPOCHS, *SMALL_TRAINING_FLAGS, *flags])
    monkeypatch.setattr(training, "train_step", TRAIN_STEP)
    state = torch.load(state_path_for(out), weights_only=True)
    assert state["saved_because"] == "interrupted"
    return state



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
    assert metrics["val_bits_per_note"] < math.log2(model.config.vocab_size) - 1  # an untrained model: log2(vocab)
    assert "test_bits_per_note" in metrics and "test_trigram_bits_per_note" in metrics
    assert len(melody.generate(model, [60, 62, 64], 10, rng_seed=1)[0].notes) == 10
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


def test_resume_continues_with_optimiser_state(corpus, tmp_path, monkeypatch):
    out = tmp_path / "model.pt"
    state = run_interrupted(monkeypatch, corpus, out, 3, "--epochs", "5")
    assert state["epoch"] == 3 and state["optimizer_state"]["state"]  # the stop came at the end of epoch 3
    train_cli.main(["--resume", str(out), "--quiet"])
    resumed = torch.load(state_path_for(out), weights_only=True)
    assert resumed["epoch"] == 5
    assert [h["epoch"] for h in resumed["history"]] == [1, 2, 3, 4, 5]
    assert resumed["history"][:3] == state["history"]
    assert "resumed with" in melody.load_model(out).info["command"]


def test_a_finished_run_is_refused_and_its_checkpoint_kept(corpus, tmp_path, capsys):
    out = tmp_path / "model.pt"
    train_cli.main(["--data", str(corpus), "--out", str(out), "--epochs", "1", *SMALL_TRAINING_FLAGS])
    before = out.read_bytes()
    assert train_cli.cli(["--resume", str(out), "--epochs", "3"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: The run that wrote") and "has finished" in err and f"--init-from {out}" in err
    assert out.read_bytes() == before


def test_plain_resume_finds_the_latest_interrupted_run_wherever_it_was_written(corpus, tmp_path, monkeypatch, capsys):
    interrupted = tmp_path / "runs" / "a.pt"
    run_interrupted(monkeypatch, corpus, interrupted, 2, "--epochs", "3")
    finished = tmp_path / "elsewhere" / "b.pt"  # newer, but finished: not a run to resume
    train_cli.main(["--data", str(corpus), "--out", str(finished), "--epochs", "1", *SMALL_TRAINING_FLAGS])
    finished_bytes = finished.read_bytes()
    capsys.readouterr()
    train_cli.main(["--resume", "--quiet"])
    assert f"Resuming the interrupted run of {interrupted}" in capsys.readouterr().out
    assert torch.load(state_path_for(interrupted), weights_only=True)["epoch"] == 3
    assert finished.read_bytes() == finished_bytes
    assert train_cli.cli(["--resume"]) == 2  # every run has finished now
    assert "No interrupted training run to resume" in capsys.readouterr().err


def test_plain_resume_skips_finished_runs_from_before_the_record(corpus, tmp_path, monkeypatch):
    """Runs written before the record of runs existed are found in checkpoints/.resume/; the newest
    there may have finished, and is passed over."""
    from melody.train.runs import record_path

    interrupted, finished = ckpt.CHECKPOINT_DIR / "a.pt", ckpt.CHECKPOINT_DIR / "b.pt"
    run_interrupted(monkeypatch, corpus, interrupted, 2, "--epochs", "3")
    train_cli.main(["--data", str(corpus), "--out", str(finished), "--epochs", "1", *SMALL_TRAINING_FLAGS])
    finished_bytes = finished.read_bytes()
    record_path().unlink()
    train_cli.main(["--resume", "--quiet"])
    assert torch.load(state_path_for(interrupted), weights_only=True)["epoch"] == 3
    assert finished.read_bytes() == finished_bytes


def test_stop_before_the_first_epoch_names_the_state_file(corpus, tmp_path, monkeypatch, capsys):
    out = tmp_path / "model.pt"
    run_interrupted(monkeypatch, corpus, out, 1, "--notes-per-epoch", "1024", "--epochs", "1")
    printed = capsys.readouterr().out
    state = state_path_for(out)
    assert not out.exists() and state.exists()
    assert "no checkpoint was written yet" in printed and f"--resume {state}" in printed
    train_cli.main(["--resume", str(state), "--quiet"])
    assert melody.load_model(out).info["finished"] is True


BUDGET_FLAGS = ["--epochs", "100000", "--patience", "100000", "--minutes", "0.02"]


@pytest.mark.heavy
def test_time_budget_counts_for_each_invocation(corpus, tmp_path, monkeypatch, capsys):
    """A resumed run gets its whole budget again (not what is left of the first invocation's), from
    --minutes when given, else the original run's."""
    for name, flags, origin in [("a.pt", [], "the original run's --minutes, applied anew"),
                                ("b.pt", ["--minutes", "0.03"], "from --minutes")]:
        out = tmp_path / name
        state = run_interrupted(monkeypatch, corpus, out, 1, *BUDGET_FLAGS)  # at once: the budget is short
        state["elapsed_seconds"] = 3600.0  # the first invocation used far more than its budget
        ckpt.atomic_save(state, state_path_for(out))
        capsys.readouterr()
        train_cli.main(["--resume", str(out), "--quiet", *flags])
        minutes = 0.03 if flags else 0.02
        assert f"Time budget: {minutes:g} minutes for this invocation ({origin})." in capsys.readouterr().out
        resumed = torch.load(state_path_for(out), weights_only=True)
        assert resumed["train_config"]["minutes"] == minutes
        assert len(resumed["history"]) > len(state["history"]) + 1  # several epochs, not one
        assert melody.load_model(out).info["metrics"]["stop_reason"] == "time budget"


@pytest.mark.heavy
def test_time_budget_stops_within_an_epoch_and_the_bar_counts_it(corpus, tmp_path, capsys):
    """Epochs far longer than the budget: the run stops inside the first, early enough to leave the
    validation and the end of the run their time, and the progress bar's total is the budget, so its
    time left is true."""
    out = tmp_path / "model.pt"
    flags = [f for f in SMALL_TRAINING_FLAGS if f != "--quiet"]
    train_cli.main(["--data", str(corpus), "--out", str(out), "--minutes", "0.05", "--notes-per-epoch", "2000000",
                    *flags])
    state = torch.load(state_path_for(out), weights_only=True)
    # the 3 s budget, a step and the validation; an epoch of 2M notes takes minutes, so 30 s still
    # shows the run stopped inside it (a busy machine has taken 12 s)
    assert state["epoch"] == 1 and state["elapsed_seconds"] < 30
    assert melody.load_model(out).info["metrics"]["stop_reason"] == "time budget"
    err = capsys.readouterr().err
    reached = [int(p) for p in re.findall(r"time budget 00:03: +(\d+)%", err)]
    # training stops at 70%: 10% for the validation (until one is measured), 20% for the end of the run
    assert reached and 60 <= reached[-1] <= 100 and reached == sorted(reached)


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA")
@pytest.mark.parametrize("device", ["cuda", "cuda:1", "gpu"])
def test_unavailable_device_is_a_one_line_error(corpus, tmp_path, capsys, device):
    assert train_cli.cli(["--data", str(corpus), "--out", str(tmp_path / "m.pt"), "--device", device]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1 and "Traceback" not in err
    assert "--device cpu" in err or "cpu, cuda" in err


def test_data_midi_folder_is_the_default(corpus, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    os.makedirs("data")
    os.rename(corpus, "data/midi")
    train_cli.main(["--out", str(tmp_path / "m.pt"), "--epochs", "1", *SMALL_TRAINING_FLAGS])
    assert melody.load_model(tmp_path / "m.pt").info["data"]["source"] == "data/midi"


def test_folder_without_midi_is_a_clear_error(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(ckpt, "CHECKPOINT_DIR", tmp_path / "checkpoints")  # where its default --out would go
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
    from melody.data import corpus

    monkeypatch.setenv("MELODY_CACHE", str(tmp_path / "cache"))
    monkeypatch.chdir(tmp_path)  # no data/midi here
    real = corpus.folk_corpus_files
    monkeypatch.setattr(corpus, "folk_corpus_files", lambda: [p for p in real() if p.name == "testd.abc"])
    train_cli.main(["--out", str(tmp_path / "folk.pt"), "--epochs", "1", *SMALL_TRAINING_FLAGS])
    assert "music21's bundled folk songs" in capsys.readouterr().out
    model = melody.load_model(tmp_path / "folk.pt")
    assert model.info["data"]["source"] == "folk" and model.info["data"]["files"] >= 3


def test_without_music21_the_folk_songs_are_one_line_saying_how_to_get_them(tmp_path, monkeypatch, capsys):
    """After `make run` (no training extra), `python train.py` must not end in a ModuleNotFoundError."""
    monkeypatch.setenv("MELODY_CACHE", str(tmp_path / "cache"))
    monkeypatch.chdir(tmp_path)  # no data/midi here: the folk songs are the default
    monkeypatch.setitem(sys.modules, "music21", None)  # as if it were not installed: importing it fails
    assert train_cli.cli(["--out", str(tmp_path / "m.pt")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert err.startswith("error: Training on music21's folk songs") and "needs music21" in err
    assert "make train" in err and "requirements-train.txt" in err and "melody-playground[train]" in err
    assert "--data" in err


@pytest.mark.parametrize("started_as", ["train.py", "melody-train"])
def test_help_shows_the_default_models_settings_without_markup(started_as, monkeypatch, capsys):
    monkeypatch.setattr(sys, "argv", [str(ROOT / started_as), "--help"])  # as python or the console script sets it
    with pytest.raises(SystemExit) as done:
        train_cli.main()
    text = capsys.readouterr().out
    assert done.value.code == 0 and text.startswith(f"usage: {started_as} ")
    assert "``" not in text and ":func:" not in text and "vocab_size" not in text and "ModelConfig(" not in text
    squeezed = re.sub(r"\s+", " ", text)
    for flag, default in [("--hidden-size", "256"), ("--embedding-size", "64"), ("--num-layers", "2"),
                          ("--dropout", "0.3"), ("--epochs", "200"), ("--batch-size", "64"), ("--lr", "0.002"),
                          ("--crop-length", "128"), ("--patience", "10")]:
        assert re.search(rf"{flag} \S+ [^-]*\(default: {re.escape(default)}\)", squeezed), flag
    assert "rhythm (default)" in squeezed and "--max-steps" in squeezed and f"{started_as} --resume" in squeezed


def test_max_steps_is_a_step_budget_for_each_invocation(corpus, tmp_path, capsys):
    out = tmp_path / "model.pt"
    train_cli.main(["--data", str(corpus), "--out", str(out), "--max-steps", "3", "--notes-per-epoch", "2000000",
                    *SMALL_TRAINING_FLAGS])
    model = melody.load_model(out)
    assert model.info["finished"] and model.info["metrics"]["stop_reason"] == "step budget"
    assert model.info["train_config"]["max_steps"] == 3
    assert "Done (step budget, 1 epochs)" in capsys.readouterr().out


@pytest.mark.heavy
def test_the_time_budget_covers_validation_and_the_end_of_the_run(tmp_path, monkeypatch, capsys):
    """60 songs of 160 notes: without a budget the end of the run (the memory, the figures, the form
    plan, the length calibration continuing up to 60 songs six times) takes about 20 s on 2 cores.
    With a 6 s budget the whole run fits in it, give or take what a phase must do at least, fits on
    the songs it reaches, and says which phases used a sample; each long phase shows a progress bar."""
    from midi_factory import write_long_songs

    from melody.data.corpus import encode_folder
    from melody.generation.sampling import generate

    monkeypatch.setenv("MELODY_CACHE", str(tmp_path / "cache"))
    write_long_songs(tmp_path / "songs", 60, 160)
    encode_folder(tmp_path / "songs", workers=1, progress=False)  # cached: the run reads it in a moment
    generate(melody.load_model(), [60, 62], 4, rng_seed=1)  # compiled generation (once per machine), outside the clock
    out = tmp_path / "model.pt"
    flags = [f for f in SMALL_TRAINING_FLAGS if f != "--quiet"]
    started = time.monotonic()
    train_cli.main(["--data", str(tmp_path / "songs"), "--out", str(out), "--minutes", "0.1", "--epochs", "100000",
                    "--patience", "100000", *flags])
    took = time.monotonic() - started
    metrics = melody.load_model(out).info["metrics"]
    assert metrics["stop_reason"] == "time budget" and metrics["samples"]
    assert any(note.startswith("length calibration: ") for note in metrics["samples"])
    assert took < 6 + 6, took  # the budget, plus reading the cache, the last writes, the least each phase does
    printed = capsys.readouterr()
    assert "The time budget left too little for every song, so these used the first ones: " in printed.out
    for bar in ("time budget 00:06", "validation:", "song memory and echo:", "validation figures:", "test figures:",
                "form plan:", "length calibration:"):
        assert bar in printed.err, bar


def test_the_trigram_baseline_counts_sparsely_and_scores_as_a_full_table_would():
    """The baseline's trigram table of the rhythm encoding (608^3 counts) took 1.8 GB and 5 s of every
    run's end, whatever the data's size; the counts it holds are a few per training token."""
    import tracemalloc

    import numpy as np

    from melody.evaluate.ngram import InterpolatedTrigram

    rng = np.random.default_rng(0)
    songs = [rng.integers(0, 608, n) for n in (50, 3, 2, 1, 0, 120)]
    tracemalloc.start()
    model = InterpolatedTrigram(608, songs).fit_weights(songs[:3])
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak < 20 * 2**20, peak
    small = [s % 7 for s in songs]  # a full table for 7 tokens, counted as the baseline was
    uni, bi, tri = np.zeros(7), np.zeros((7, 7)), np.zeros((7, 7, 7))
    for s in small:
        np.add.at(uni, s, 1)
        np.add.at(bi, (s[:-1], s[1:]), 1)
        np.add.at(tri, (s[:-2], s[1:-1], s[2:]), 1)
    sparse = InterpolatedTrigram(7, small)
    for s in small + [np.array([3, 3, 3, 6])]:
        p3, p2, p1 = sparse._components(s).T
        assert np.allclose(p1, (uni[s] + 1) / (uni.sum() + 7))
        if len(s) > 2:
            ctx = tri[s[:-2], s[1:-1]].sum(1)
            expected = np.where(ctx > 0, tri[s[:-2], s[1:-1], s[2:]] / np.maximum(ctx, 1), p2[2:])
            assert np.allclose(p3[2:], expected)
    assert 0 < model.bits_per_note(songs) < 20
