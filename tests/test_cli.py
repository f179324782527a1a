import contextlib
import io
import json
import math
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from midi_factory import C_MAJOR_SCALE, pitches_in, write_melody, write_small_corpus

import train as train_cli
from melody import cli
from melody.model import checkpoint as ckpt

ROOT = Path(__file__).resolve().parent.parent


def run(*args, cwd=None, env=None, process=False):
    """``python -m melody *args``: ``(returncode, stdout, stderr)``. In this process (``melody.cli.main``,
    with ``env`` added to the environment while it runs: for variables read when a command runs, such
    as ``$MELODY_CHECKPOINT``), unless ``process`` asks for a new one."""
    if process:
        # With CI set, pyfluidsynth prints a line to stdout when it is imported; --json output must stay
        # clean whether or not the variable is set, so the CLI always runs with it here.
        env = {**os.environ, "CI": "true", **(env or {})}
        return subprocess.run([sys.executable, "-m", "melody", *args], capture_output=True, text=True, cwd=cwd,
                              env=env)
    out, err, before = io.StringIO(), io.StringIO(), os.getcwd()
    with pytest.MonkeyPatch.context() as patch:
        for name, value in (env or {}).items():
            patch.setenv(name, value)
        try:
            os.chdir(cwd or before)
            with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
                try:
                    status = cli.main(list(args))
                except SystemExit as exit_:  # argparse: --version, --help, usage errors
                    status = exit_.code if isinstance(exit_.code, int) else 2
        finally:
            os.chdir(before)
    return subprocess.CompletedProcess(args, status, out.getvalue(), err.getvalue())


@pytest.fixture(scope="module")
def small_checkpoint(tmp_path_factory):
    root = tmp_path_factory.mktemp("cli")
    write_small_corpus(root / "midi")
    out = root / "small.pt"
    train_cli.main(["--data", str(root / "midi"), "--out", str(out), "--epochs", "2", "--hidden-size", "24",
                    "--num-layers", "1", "--quiet", "--workers", "1"])
    return out


def test_generate_writes_seed_then_continuation(small_checkpoint, tmp_path):
    out = tmp_path / "out.mid"
    result = run("generate", "--seed", "C4 D4 E4", "--length", "20", "--temperature", "1.0", "--rng-seed", "7",
                 "--out", str(out), "--checkpoint", str(small_checkpoint))
    assert result.returncode == 0, result.stderr
    pitches = pitches_in(out)
    assert len(pitches) == 23 and pitches[:3] == [60, 62, 64]
    again = tmp_path / "again.mid"
    run("generate", "--seed", "60 62 64", "--length", "20", "--rng-seed", "7", "--out", str(again),
        "--checkpoint", str(small_checkpoint))
    assert pitches_in(again) == pitches


def test_generate_from_a_midi_seed_in_another_key(small_checkpoint, tmp_path):
    seed = write_melody(tmp_path / "d.mid", [p + 2 for p in C_MAJOR_SCALE])
    out = tmp_path / "out.mid"
    result = run("generate", "--seed-midi", str(seed), "--length", "8", "--rng-seed", "1", "--out", str(out),
                 "--checkpoint", str(small_checkpoint), "--beta", "3", "--top-k", "5")
    assert result.returncode == 0, result.stderr
    assert pitches_in(out)[:8] == [p + 2 for p in C_MAJOR_SCALE]  # back in D major
    run("generate", "--seed-midi", str(seed), "--length", "8", "--out", str(out), "--model-key",
        "--checkpoint", str(small_checkpoint))
    assert pitches_in(out)[:8] == C_MAJOR_SCALE


def test_several_outputs_in_a_folder_with_key_signature_and_seed_marker(small_checkpoint, tmp_path):
    import mido

    result = run("generate", "--seed", "D4 E4 F#4 G4", "--length", "6", "--rng-seed", "3", "--num-outputs", "3",
                 "--output-dir", str(tmp_path / "outs"), "--out", "tune.mid", "--checkpoint", str(small_checkpoint),
                 "--top-k", "1")
    assert result.returncode == 0, result.stderr
    files = sorted((tmp_path / "outs").glob("*.mid"))
    assert [f.name for f in files] == ["tune-1.mid", "tune-2.mid", "tune-3.mid"]
    for path in files:
        assert pitches_in(path)[:4] == [62, 64, 66, 67] and len(pitches_in(path)) == 10
        meta = [m for track in mido.MidiFile(path).tracks for m in track if m.is_meta]
        assert [m.key for m in meta if m.type == "key_signature"] == ["D"]
        ticks = {m.text: t for t, m in _absolute(mido.MidiFile(path).tracks[0]) if m.type == "marker"}
        assert ticks["seed ends: continuation"] == 2 * 220  # four eighth notes = 2 beats, 220 ticks each


def _absolute(track):
    tick = 0
    for message in track:
        tick += message.time
        yield tick, message


def test_version(small_checkpoint):
    import melody

    assert run("--version").stdout.strip() == f"melody {melody.__version__}"


@pytest.mark.system  # runs the command in new processes
def test_encode_prints_json_of_each_file(tmp_path):
    write_melody(tmp_path / "a.mid", [62, 64, 66])
    write_melody(tmp_path / "b.mid", C_MAJOR_SCALE)
    result = run("encode", str(tmp_path), "--json", process=True)  # stdout holds JSON alone in a new process too
    assert result.returncode == 0, result.stderr
    found = json.loads(result.stdout)
    assert found["a.mid"]["pitches"] == [60, 62, 64] and found["b.mid"]["pitches"] == C_MAJOR_SCALE
    assert found["a.mid"]["notes"] == [[0, 2, 60], [2, 2, 62], [4, 2, 64]]  # eighth notes, in 16ths
    assert found["a.mid"]["key"] == "D major" and found["a.mid"]["key_shift"] == -2
    single = run("encode", str(tmp_path / "b.mid"), "--json", "--encoding", "classic")
    assert json.loads(single.stdout)["b.mid"]["pitches"] == C_MAJOR_SCALE


def test_evaluate_prints_bits_per_note(small_checkpoint, tmp_path):
    paths = write_small_corpus(tmp_path / "eval", repeats=1)
    result = run("evaluate", "--data", str(tmp_path / "eval"), "--checkpoint", str(small_checkpoint), "--json")
    assert result.returncode == 0, result.stderr
    figures = json.loads(result.stdout)
    assert figures["files"] == len(paths)
    assert figures["notes"] == sum(len(pitches_in(p)) for p in paths)  # eighth notes without rests: one token each
    assert 0 < figures["bits_per_note"] < math.log2(38 * 16)  # below an untrained model's
    assert figures["bits_per_step"] == pytest.approx(figures["bits_per_note"] / 2)  # each note 2 sixteenths


@pytest.mark.parametrize(
    "args, words",
    [
        (["generate", "--seed", "C4 H4"], "'H4' is not a note"),
        (["generate", "--seed", "C4", "--length", "-3"], "Length"),
        (["generate", "--seed", "C4", "--num-outputs", "0"], "--num-outputs must be a whole number from 1"),
        (["generate", "--seed-midi", "nowhere.mid"], "Cannot open"),
        (["generate", "--seed", "C4", "--checkpoint", "nowhere.pt"], "does not exist"),
        (["encode", "nowhere.mid"], "Cannot open"),
    ],
)
def test_mistakes_give_one_line_errors(small_checkpoint, args, words):
    if "--checkpoint" not in args and args[0] == "generate":
        args = [*args, "--checkpoint", str(small_checkpoint)]
    result = run(*args)
    assert result.returncode == 2
    assert words in result.stderr and "Traceback" not in result.stderr


def test_steering_flags_pin_scale_loop_and_copy_cap(tmp_path):
    """With the shipped model: pins and the scale in the seed's own key (D major here), a loop written
    twice, and the copy cap."""
    out = tmp_path / "steered.mid"
    seed = "D4/4 E4/8 F#4/8 A4/4 F#4/4 D4/2"
    result = run("generate", "--seed", seed, "--length", "16", "--rng-seed", "3", "--pin", "7:A4", "--pin", "15:D5",
                 "--scale", "D major pentatonic", "--loop", "--max-copy", "10", "--particles", "64", "--out", str(out))
    assert result.returncode == 0, result.stderr
    pitches = pitches_in(out)
    assert len(pitches) == 2 * (6 + 16)  # the loop is written twice
    assert pitches[:22] == pitches[22:]
    continuation = pitches[6:22]
    assert continuation[7] == 69 and continuation[15] == 74
    assert {p % 12 for p in continuation} <= {2, 4, 6, 9, 11}
    bad = run("generate", "--seed", seed, "--pin", "3:C4", "--scale", "D major", "--out", str(out))
    assert bad.returncode != 0 and "not in D major" in bad.stderr and "Traceback" not in bad.stderr


def test_fit_sampling_refits_the_form_plan_and_lengths_and_keeps_the_weights(small_checkpoint, tmp_path, capsys):
    import melody
    from melody.model import checkpoint as ckpt

    corpus = tmp_path / "midi"
    write_small_corpus(corpus, repeats=2)
    train_cli.main(["--fit-sampling", str(small_checkpoint), "--data", str(corpus), "--quiet", "--workers", "1"])
    out = small_checkpoint.with_name(f"{small_checkpoint.stem}-fitted.pt")
    assert f"written to {out}" in capsys.readouterr().out
    before, after = ckpt.read_file(small_checkpoint, ckpt.FORMAT), melody.load_model(out)
    assert after.info["metrics"]["generation_fit_data"].endswith("training songs)")
    assert after.info["metrics"]["generation_fit_command"].startswith("python train.py --fit-sampling")
    for name, weights in before["model_state"].items():
        if name not in ("form_plan", "length_calibration"):
            assert torch.equal(after.state_dict()[name], weights)
    assert len(after.form_plan) == len(after.info["metrics"]["form_plan"])
    # a second run would overwrite the first result: refused, in one line
    status = train_cli.cli(["--fit-sampling", str(small_checkpoint), "--data", str(corpus), "--quiet"])
    error = capsys.readouterr().err
    assert status != 0 and "already exists and is kept" in error and "Traceback" not in error
    status = train_cli.cli(["--fit-sampling", str(tmp_path / "nowhere.pt"), "--data", str(corpus), "--quiet"])
    assert status != 0 and "does not exist" in capsys.readouterr().err


@pytest.mark.system  # runs the command in new processes
def test_version_and_help_load_neither_torch_nor_numba():
    """`melody --version` took 6.5 s importing torch and numba it does not use; the API stays whole."""
    code = ("import runpy, sys\n"
            "sys.argv = ['melody', *sys.argv[1:]]\n"
            "try:\n    runpy.run_module('melody', run_name='__main__')\n"
            "except SystemExit:\n    pass\n"
            "print('loaded:', sorted(m for m in ('torch', 'numba') if m in sys.modules))")
    for args in (["--version"], ["--help"], ["generate", "--help"], ["encode", "--help"]):
        result = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, timeout=120)
        assert result.returncode == 0 and result.stdout.splitlines()[-1] == "loaded: []", (args, result.stdout)
    code = ("import sys, melody\n"
            "assert 'torch' not in sys.modules and 'numba' not in sys.modules\n"
            "from melody import generate, load_model, CheckpointError\n"
            "assert callable(melody.encode_midi) and set(melody.__all__) <= set(dir(melody))\n"
            "print('torch' in sys.modules)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0 and result.stdout.strip() == "True", result.stderr  # loaded once it is used


@pytest.mark.system  # one case runs the command in a new process
def test_generate_uses_the_shipped_model_until_another_is_chosen(small_checkpoint, tmp_path, monkeypatch):
    """A checkpoint trained later is not the default by itself: --checkpoint or MELODY_CHECKPOINT
    chooses it (issue 21, 11h). $MELODY_CHECKPOINT_DIR is read when the package is imported: the first
    case runs in a new process with it, the others here with the folder it names."""
    folder = tmp_path / "checkpoints"
    folder.mkdir()
    shutil.copy(ROOT / "checkpoints" / "rhythm.pt", folder)
    os.utime(folder / "rhythm.pt", (1, 1_000_000))  # as a clone wrote it, long ago
    shutil.copy(small_checkpoint, folder / "mine.pt")  # trained just now
    seed = ["generate", "--seed", "C4 D4 E4", "--length", "4", "--out", str(tmp_path / "x.mid")]
    result = run(*seed, env={"MELODY_CHECKPOINT_DIR": str(folder)}, process=True)
    assert result.returncode == 0 and result.stdout.splitlines()[-1].endswith("(checkpoint rhythm.pt)"), result
    monkeypatch.setattr(ckpt, "CHECKPOINT_DIR", folder)
    for env, chosen, used in [({}, [], "rhythm.pt"), ({"MELODY_CHECKPOINT": "mine.pt"}, [], "mine.pt"),
                              ({}, ["--checkpoint", str(folder / "mine.pt")], "mine.pt")]:
        result = run(*seed, *chosen, env=env)
        assert result.returncode == 0 and result.stdout.splitlines()[-1].endswith(f"(checkpoint {used})"), result
    result = run(*seed, env={"MELODY_CHECKPOINT": "nowhere.pt"})
    assert result.returncode == 2 and result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
    assert result.stderr.startswith("error: MELODY_CHECKPOINT is 'nowhere.pt', which is not one of the checkpoints")
