"""Small untrained models with fixed random weights: sampler and add-on tests need no training."""
import numpy as np
import torch

from melody.model import checkpoint as ckpt
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


def stepped(model, tokens, positions=None, factors=None):
    """The compiled stepper's logits and its probabilities (with ``factors``) at every step, ``[batch, steps, vocab]``."""
    from melody.generation.stepper import LstmStepper

    batch, steps = tokens.shape
    zeros = torch.zeros(model.config.num_layers, batch, model.config.hidden_size)
    logits, probs = LstmStepper(model).start(zeros, zeros), LstmStepper(model).start(zeros, zeros)
    at = (lambda t: positions[:, t].numpy()) if positions is not None else (lambda t: None)
    return (np.stack([logits.step(tokens[:, t].numpy(), at(t)) for t in range(steps)], axis=1),
            np.stack([probs.step_probs(tokens[:, t].numpy(), at(t), factors) for t in range(steps)], axis=1))


def small_rhythm(path, hidden=16):
    """A small untrained rhythm checkpoint at ``path``, as a finished training run writes it."""
    model = MelodyLSTM(ModelConfig.for_encoding(RHYTHM, embedding_size=8, hidden_size=hidden, num_layers=1))
    ckpt.atomic_save(ckpt.checkpoint_payload(model, RHYTHM, finished=True), path)
