"""Small untrained models with fixed random weights: sampler and add-on tests need no training."""
import torch

from melody.model.network import MelodyLSTM, ModelConfig
from melody.music.encoding import RHYTHM


def rhythm_model(seed=3, layers=1):
    """A small untrained rhythm-encoding model with fixed random weights."""
    torch.manual_seed(seed)
    config = ModelConfig.for_encoding(RHYTHM, embedding_size=8, hidden_size=16, num_layers=layers, dropout=0.0,
                                      memory_aligned=False)
    model = MelodyLSTM(config)
    model.encoding = RHYTHM
    return model.eval()
