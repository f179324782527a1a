"""The original write-up's network, for comparison only: one-hot input, a 3-layer LSTM of 1024
units with dropout 0.3, batch norm, and a linear read-out; generated one eager step at a time."""
import torch
from torch import nn


class OriginalLSTM(nn.Module):
    def __init__(self, vocab_size=37, hidden_size=1024, num_layers=3, dropout=0.3):
        super().__init__()
        self.vocab_size = vocab_size
        self.lstm = nn.LSTM(vocab_size, hidden_size, num_layers, batch_first=True, dropout=dropout)
        self.norm = nn.BatchNorm1d(hidden_size)
        self.dropout = nn.Dropout(dropout)
        self.head = nn.Linear(hidden_size, vocab_size)

    def forward(self, tokens, state=None):
        x = nn.functional.one_hot(tokens, self.vocab_size).float()
        y, state = self.lstm(x, state)
        y = self.norm(y.transpose(1, 2)).transpose(1, 2)
        return self.head(self.dropout(y)), state


@torch.no_grad()
def generate_eagerly(model, seed_tokens, length, generator=None):
    """The straightforward loop: the whole network called once per note."""
    model.eval()
    logits, state = model(torch.tensor([seed_tokens]))
    out = []
    for _ in range(length):
        token = torch.multinomial(torch.softmax(logits[:, -1], -1), 1, generator=generator)
        out.append(int(token))
        logits, state = model(token, state)
    return out
