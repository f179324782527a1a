import pytest
import torch

from app_process import start_app, stop_app
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
    process, url, _ = start_app(tmp_path_factory.mktemp("app") / "app.log")
    yield url
    stop_app(process)
