import os
import subprocess
import tempfile
from pathlib import Path

# Compiled code checks every index in the tests (numba does not by default: an index past an array
# reads or writes whatever lies there). Set before numba is imported; the checked code is cached
# apart from the unchecked one, which numba would otherwise load as it is. Processes the tests start
# (the app server, the CLI) inherit both.
os.environ["NUMBA_BOUNDSCHECK"] = "1"
os.environ.setdefault("NUMBA_CACHE_DIR", os.path.join(tempfile.gettempdir(), "melody-numba-boundscheck"))

import pytest
import torch
from app_process import start_app, stop_app
from midi_factory import POKEMON_DIR

SYSTEM = Path(__file__).resolve().parent / "system"


def pytest_collection_modifyitems(config, items):
    """Tests under tests/system/ start processes or a browser: marked ``system`` (``make test-fast``
    leaves them out), as are the few elsewhere marked by hand."""
    for item in items:
        if SYSTEM in Path(str(item.fspath)).resolve().parents:
            item.add_marker(pytest.mark.system)


@pytest.fixture
def pokemon_dir():
    if not POKEMON_DIR.is_dir():
        pytest.skip("../shared/data/pokemon-midi is not present")
    return POKEMON_DIR


@pytest.fixture
def tiny_model():
    """A small untrained model with fixed random weights (sampler tests need no training)."""
    from melody.model.network import MelodyLSTM, ModelConfig
    from melody.music.encoding import EncodingConfig

    torch.manual_seed(3)
    model = MelodyLSTM(ModelConfig(embedding_size=8, hidden_size=16, num_layers=1, dropout=0.0))
    with torch.no_grad():
        model.head.weight.mul_(20)  # sharper distributions than a fresh init, so rules differ visibly
    model.encoding = EncodingConfig()
    return model.eval()


@pytest.fixture(scope="session")
def app_server(tmp_path_factory):
    """The real playground (python app.py) on a free loopback port, for API and browser tests:
    ``(url, path of its log)``. Its files live in a temporary folder of this test session."""
    folder = tmp_path_factory.mktemp("app")
    # Reading the 200,000-note upload takes seconds; on a machine busy with the other test worker it
    # could reach the 20 s limit, which is not what these tests are about: they get two minutes.
    process, url, _ = start_app(folder / "app.log", env={"MELODY_TMP": str(folder / "files"),
                                                         "MELODY_UPLOAD_READ_SECONDS": "120"})
    yield url, folder / "app.log"
    stop_app(process)


@pytest.fixture(scope="session")
def app_url(app_server):
    return app_server[0]


ROOT = Path(__file__).resolve().parent.parent


def _tracked_changes():
    """``git status`` of the checkout (tracked and untracked, ignored files left out), or None outside git."""
    try:
        return subprocess.run(["git", "status", "--porcelain", "--untracked-files=all"], cwd=ROOT,
                              capture_output=True, text=True, check=True, timeout=60).stdout
    except (OSError, subprocess.SubprocessError):
        return None


def pytest_sessionstart(session):
    session.config._status_before = _tracked_changes()


def pytest_sessionfinish(session, exitstatus):
    """Tests write only to temporary folders: the checkout must look the same after the run."""
    before, after = getattr(session.config, "_status_before", None), _tracked_changes()
    if before is not None and after is not None and before != after and exitstatus == 0:
        changed = sorted(set(after.splitlines()) ^ set(before.splitlines()))
        print(f"\nThe test run changed files in the checkout: {changed[:10]}")
        session.exitstatus = 1
