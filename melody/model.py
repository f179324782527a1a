"""The network: token embedding, a stacked LSTM and a linear read-out over the 37 pitches."""
from dataclasses import asdict, dataclass

import torch
from torch import nn

from .notes import VOCAB_SIZE


@dataclass(frozen=True)
class ModelConfig:
    """Settings that rebuild a ``MelodyLSTM``; stored in every checkpoint."""

    vocab_size: int = VOCAB_SIZE
    embedding_size: int = 64
    hidden_size: int = 256
    num_layers: int = 2
    dropout: float = 0.3
    memory_order: int = 12  # longest context the song memory matches (see melody/memory.py)

    def to_dict(self):
        return asdict(self)


class MelodyLSTM(nn.Module):
    """Predicts the next token of a melody from the tokens so far.

    Two buffers are saved with the weights: ``start_log_probs``, the distribution of a melody's
    first note (the training data's note frequencies), which scores the first note in evaluation
    and starts generation from an empty seed; and ``memory_weights``, the weight of the song
    memory for each match length (all 0, i.e. no memory, until fitted after training).
    """

    def __init__(self, config=ModelConfig()):
        super().__init__()
        self.config = config
        self.embedding = nn.Embedding(config.vocab_size, config.embedding_size)
        self.lstm = nn.LSTM(
            config.embedding_size,
            config.hidden_size,
            config.num_layers,
            batch_first=True,
            dropout=config.dropout if config.num_layers > 1 else 0.0,
        )
        self.dropout = nn.Dropout(config.dropout)
        self.head = nn.Linear(config.hidden_size, config.vocab_size)
        uniform = torch.full((config.vocab_size,), -torch.log(torch.tensor(float(config.vocab_size))))
        self.register_buffer("start_log_probs", uniform)
        self.register_buffer("memory_weights", torch.zeros(config.memory_order + 1))

    def forward(self, tokens, state=None):
        """Logits of the next token after every position.

        Parameters
        ----------
        tokens : LongTensor ``[batch, time]``
        state : (h, c) or None
            LSTM state to continue from; None starts from zeros.

        Returns
        -------
        (logits ``[batch, time, vocab]``, new state)
        """
        x = self.dropout(self.embedding(tokens))
        y, state = self.lstm(x, state)
        return self.head(self.dropout(y)), state

    def set_start_distribution(self, counts):
        """Set ``start_log_probs`` from note counts (add-one smoothed)."""
        counts = torch.as_tensor(counts, dtype=torch.float32) + 1.0
        self.start_log_probs.copy_(torch.log(counts / counts.sum()))

    def num_parameters(self):
        return sum(p.numel() for p in self.parameters())
