"""Training loses nothing: stop signals, resumption, damaged files, several processes."""
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from abc_factory import write_abc_files
from midi_factory import SMALL_TRAINING_FLAGS, write_small_corpus

import melody
import train as train_cli
from melody.data import corpus as corpus_module
from melody.train.runs import lock_path
from melody.train.training import state_path_for

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def corpus(tmp_path, monkeypatch):
    monkeypatch.setenv("MELODY_CACHE", str(tmp_path / "cache"))
    write_small_corpus(tmp_path / "midi")
    return tmp_path / "midi"


def test_sigterm_keeps_the_best_checkpoint_and_resume_continues(corpus, tmp_path):
    out = tmp_path / "model.pt"
    state = state_path_for(out)
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    process = subprocess.Popen([sys.executable, str(ROOT / "train.py"), "--data", str(corpus), "--out", str(out),
                                "--epochs", "100000", "--patience", "100000", *SMALL_TRAINING_FLAGS],
                               cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    deadline = time.time() + 120
    while not (state.exists() and out.exists()) and time.time() < deadline:
        time.sleep(0.2)
    time.sleep(1.0)  # let it get into the middle of a later epoch
    process.send_signal(signal.SIGTERM)
    output, _ = process.communicate(timeout=60)
    assert process.returncode == 0, output
    assert "Stopped on request" in output and "--resume" in output
    assert melody.load_model(out).info["finished"] is False  # the best model so far, readable
    saved = torch.load(state, weights_only=True)
    assert saved["saved_because"] == "interrupted" and saved["optimizer_state"]["state"]
    train_cli.main(["--resume", str(out), "--epochs", str(saved["epoch"] + 2), "--quiet"])
    resumed = torch.load(state, weights_only=True)
    assert resumed["epoch"] == saved["epoch"] + 2
    assert resumed["history"][: len(saved["history"])] == saved["history"]
    assert melody.load_model(out).info["finished"] is True


@pytest.mark.parametrize("damage", [lambda b: b[: len(b) // 3], lambda b: b"garbage"])
def test_resuming_from_a_damaged_state_is_a_clear_error(corpus, tmp_path, capsys, damage):
    out = tmp_path / "model.pt"
    train_cli.main(["--data", str(corpus), "--out", str(out), "--epochs", "1", *SMALL_TRAINING_FLAGS])
    state = state_path_for(out)
    state.write_bytes(damage(state.read_bytes()))
    assert train_cli.cli(["--resume", str(out)]) == 2
    err = capsys.readouterr().err
    assert "damaged or truncated" in err and "Traceback" not in err


def test_unreadable_files_are_skipped_with_names(corpus, tmp_path, capsys):
    (corpus / "empty.mid").write_bytes(b"")
    (corpus / "text.mid").write_text("not midi")
    train_cli.main(["--data", str(corpus), "--out", str(tmp_path / "m.pt"), "--epochs", "1", *SMALL_TRAINING_FLAGS])
    printed = capsys.readouterr().out
    assert "Skipped 2 unreadable or empty files" in printed and "empty.mid" in printed and "text.mid" in printed
    skipped = dict(melody.load_model(tmp_path / "m.pt").info["data"]["skipped"])
    assert "is empty" in skipped["empty.mid"] and "not a MIDI file" in skipped["text.mid"]


def children(pid):
    """Process ids whose parent is ``pid`` (from /proc; Linux)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.append(int(stat.parent.name))
    return found


def running(pid):
    """Whether process ``pid`` exists and is not a zombie."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


# train.py on ABC files built here in place of music21's folk corpus, on two worker processes.
ENCODE_FOLK = """import sys
from pathlib import Path
from melody.data import corpus
import train
corpus.folk_corpus_files = lambda: sorted(Path(sys.argv[1]).glob("*.abc"))
sys.exit(train.cli(["--data", "folk", "--workers", "2", "--out", sys.argv[2], "--epochs", "1"]))
"""


@pytest.mark.parametrize("signum, to_group", [(signal.SIGTERM, False), (signal.SIGINT, True)], ids=["SIGTERM", "Ctrl-C"])
@pytest.mark.slow
def test_a_signal_while_encoding_stops_the_workers_and_keeps_their_work(tmp_path, monkeypatch, signum, to_group):
    """SIGTERM to train.py, or Ctrl-C (SIGINT to the terminal's whole process group), while its
    workers encode: no worker is left running, every finished file is cached, one line says so,
    the exit status is the signal's, and the same command continues from the cache."""
    files = write_abc_files(tmp_path / "abc", files=12, tunes=300)
    cache = tmp_path / "cache"
    monkeypatch.setenv("MELODY_CACHE", str(cache))
    process = subprocess.Popen([sys.executable, "-c", ENCODE_FOLK, str(tmp_path / "abc"), str(tmp_path / "m.pt")],
                               cwd=ROOT, env=dict(os.environ, PYTHONPATH=str(ROOT)), stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True, start_new_session=True)
    deadline, workers = time.time() + 120, []
    try:
        while time.time() < deadline and not (len(workers) == 2 and list(cache.glob("folk/*.json"))):
            workers = children(process.pid)
            time.sleep(0.05)
        assert len(workers) == 2 and list(cache.glob("folk/*.json")), "the workers never finished a file"
        os.killpg(process.pid, signum) if to_group else process.send_signal(signum)
        output, errors = process.communicate(timeout=60)
    finally:
        survivors = [pid for pid in workers if running(pid)]
        try:  # never leave a process behind, even when train.py died and left its workers running
            os.killpg(process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        process.wait()
    assert not survivors
    assert process.returncode == 128 + signum, errors
    cached = sorted(cache.glob("folk/*.json"))
    name = "Ctrl-C" if signum == signal.SIGINT else "SIGTERM"
    assert errors.splitlines()[-1] == (f"Stopped by {name} while encoding: {len(cached)} of 12 files are done and "
                                       "cached; run the same command again to continue from the cache.")
    assert 1 <= len(cached) < 12 and not list(cache.rglob("*.tmp")) and "Traceback" not in errors
    written = {p: p.stat().st_mtime_ns for p in cached}
    monkeypatch.setattr(corpus_module, "folk_corpus_files", lambda: files)
    songs, skipped = corpus_module.encode_folk_corpus(workers=2, progress=False)
    assert len(songs) == 12 * 300 and not skipped
    assert {p: p.stat().st_mtime_ns for p in cached} == written  # read back, not encoded again


def test_encoding_on_all_cores_matches_one_core(corpus, tmp_path):
    from melody.data.corpus import encode_folder

    one, _ = encode_folder(corpus, workers=1, cache_dir=None, progress=False)
    many, _ = encode_folder(corpus, workers=2, cache_dir=None, progress=False)
    assert [(s.name, s.melody.tokens) for s in one] == [(s.name, s.melody.tokens) for s in many]


def test_two_processes_under_torchrun(corpus, tmp_path):
    torchrun = shutil.which("torchrun", path=str(Path(sys.executable).parent))
    out = tmp_path / "ddp.pt"
    process = subprocess.Popen([torchrun, "--standalone", "--nproc_per_node=2", str(ROOT / "train.py"),
                                "--data", str(corpus), "--out", str(out), "--epochs", "2", *SMALL_TRAINING_FLAGS],
                               cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                               env=dict(os.environ, OMP_NUM_THREADS="1"), start_new_session=True)
    try:
        output, _ = process.communicate(timeout=180)
    finally:
        if process.poll() is None:  # never leave the workers behind
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
    assert process.returncode == 0, output
    assert "2 process(es)" in output
    model = melody.load_model(out)
    assert model.info["finished"] and model.info["processes"] == 2
    assert len(model.info["metrics"]["history"]) == 2
    assert not list(tmp_path.glob(".*.tmp"))  # one writer, atomic renames, no leftovers


@pytest.mark.parametrize("world_size", ["1", "2"])
def test_a_worker_exits_with_its_status_and_all_its_output(world_size):
    """Under torchrun (WORLD_SIZE > 1) train.py ends without the interpreter's teardown; the exit
    status and everything printed (a pipe is block-buffered) must still come through."""
    code = "from melody.train.distributed import exit_process; print('done', flush=False); exit_process(3)"
    env = {k: v for k, v in os.environ.items() if k != "PYTHONUNBUFFERED"}
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT,
                            env=dict(env, WORLD_SIZE=world_size))
    assert result.returncode == 3
    assert result.stdout == "done\n"


def test_a_second_run_with_the_same_out_stops_at_once_naming_the_first(corpus, tmp_path):
    """Two runs writing one checkpoint would overwrite each other's: while the first trains (its long
    first epoch has written nothing yet), a second with the same --out says which process holds it
    and exits before reading any data; the first goes on, and its lock is gone when it ends."""
    out = tmp_path / "model.pt"
    first = subprocess.Popen([sys.executable, str(ROOT / "train.py"), "--data", str(corpus), "--out", str(out),
                              "--notes-per-epoch", "2000000", *SMALL_TRAINING_FLAGS], cwd=tmp_path,
                             env=dict(os.environ, PYTHONUNBUFFERED="1"), stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT, text=True)
    try:
        printed = ""
        while "Split by file" not in printed and first.poll() is None:  # it is training now
            printed += first.stdout.readline()
        second = subprocess.run([sys.executable, str(ROOT / "train.py"), "--data", str(corpus), "--out", str(out),
                                 "--epochs", "1", "--quiet"], cwd=tmp_path, capture_output=True, text=True, timeout=120)
        still_training = first.poll() is None
    finally:
        first.send_signal(signal.SIGTERM)
        output, _ = first.communicate(timeout=60)
    assert second.returncode == 2 and "Traceback" not in second.stderr
    assert second.stderr == (f"error: {out} is being written by another training run (process {first.pid}): wait "
                             "for it to finish, stop it, or choose another --out.\n")
    assert "Training data" not in second.stdout  # it stopped before reading any
    assert still_training and first.returncode == 0 and "Stopped on request" in output
    assert torch.load(state_path_for(out), weights_only=True)["saved_because"] == "interrupted"
    assert not lock_path(out).exists()  # released as the first run ended


def test_the_lock_of_a_killed_run_is_taken_over(corpus, tmp_path):
    out = tmp_path / "model.pt"
    killed = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    killed.kill()
    killed.wait()
    lock_path(out).parent.mkdir(parents=True)
    lock_path(out).write_text(f"{killed.pid}\n")  # what a run killed with SIGKILL leaves behind
    train_cli.main(["--data", str(corpus), "--out", str(out), "--epochs", "1", *SMALL_TRAINING_FLAGS])
    assert melody.load_model(out).info["finished"] and not lock_path(out).exists()


@pytest.fixture
def unwritable_folder(tmp_path):
    """A folder no file can be made in, for real: immutable (chattr +i) when running as root, whom
    permissions do not stop; read-only by its mode otherwise."""
    folder = tmp_path / "locked"
    folder.mkdir()
    root = os.geteuid() == 0
    command = ["chattr", "+i", str(folder)] if root else ["chmod", "555", str(folder)]
    if subprocess.run(command, capture_output=True).returncode != 0:
        pytest.skip(f"cannot make a folder unwritable here ({' '.join(command[:2])} failed)")
    try:
        if os.access(folder, os.W_OK) and not root:
            pytest.skip("this user can write to a read-only folder")
        yield folder
    finally:
        subprocess.run(["chattr", "-i", str(folder)] if root else ["chmod", "755", str(folder)], check=True)


@pytest.mark.parametrize("where", ["immutable folder", "a file where a folder should be"])
def test_an_output_folder_that_cannot_be_written_is_one_line_before_any_data_is_read(corpus, tmp_path, where,
                                                                                     request):
    if where == "immutable folder":
        folder = request.getfixturevalue("unwritable_folder")
        reason = "operation not permitted" if os.geteuid() == 0 else "permission denied"
    else:
        folder = tmp_path / "notes.txt" / "runs"
        (tmp_path / "notes.txt").write_text("a file, not a folder")
        reason = f"'{tmp_path / 'notes.txt'}' is a file, not a folder"
    started = time.monotonic()
    result = subprocess.run([sys.executable, str(ROOT / "train.py"), "--data", str(corpus), "--out",
                             str(folder / "model.pt"), *SMALL_TRAINING_FLAGS], cwd=tmp_path, capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert result.stderr == (f"error: Cannot write checkpoints into '{folder}' ({reason}): choose an --out in a "
                             "folder you can write to.\n")
    assert "Training data" not in result.stdout and time.monotonic() - started < 60
    assert not list((tmp_path / "cache").glob("**/*.json"))  # no file was even encoded
