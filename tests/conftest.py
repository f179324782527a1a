import pytest
import torch

from midi_factory import POKEMON_DIR


@pytest.fixture
def pokemon_dir():
    if not POKEMON_DIR.is_dir():
        pytest.skip("../shared/data/pokemon-midi is not present")
    return POKEMON_DIR


@pytest.fixture
def tiny_model():
    """A small untrained model with fixed random weights (sampler tests need no training)."""
    from melody.encoding import EncodingConfig
    from melody.model import MelodyLSTM, ModelConfig

    torch.manual_seed(3)
    model = MelodyLSTM(ModelConfig(embedding_size=8, hidden_size=16, num_layers=1, dropout=0.0))
    with torch.no_grad():
        model.head.weight.mul_(20)  # sharper distributions than a fresh init, so rules differ visibly
    model.encoding = EncodingConfig()
    return model.eval()


@pytest.fixture(scope="session")
def app_url(tmp_path_factory):
    """The real playground (python app.py) on a free loopback port, for API and browser tests."""
    import os
    import socket
    import subprocess
    import sys
    import time
    import urllib.request
    from pathlib import Path

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    root = Path(__file__).resolve().parent.parent
    log_path = tmp_path_factory.mktemp("app") / "app.log"
    env = dict(os.environ, GRADIO_ANALYTICS_ENABLED="False", HF_HUB_OFFLINE="1", PYTHONUNBUFFERED="1")
    with open(log_path, "w") as log:
        process = subprocess.Popen([sys.executable, str(root / "app.py"), "--port", str(port)], cwd=root, env=env,
                                   stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/"
    deadline = time.time() + 120
    while True:
        if process.poll() is not None:
            raise RuntimeError(f"app.py exited early:\n{log_path.read_text()}")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    break
        except OSError:
            pass
        if time.time() > deadline:
            process.kill()
            raise RuntimeError(f"app.py did not answer within 120 s:\n{log_path.read_text()}")
        time.sleep(0.3)
    yield url
    process.terminate()
    try:
        process.wait(10)
    except subprocess.TimeoutExpired:
        process.kill()
