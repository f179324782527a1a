"""Bits per note of a model, teacher-forced over whole songs: the one measure used in training and evaluation."""
from dataclasses import dataclass

import numpy as np
import torch

from .memory import memory_predictions, mix


@torch.no_grad()
def note_probabilities(model, sequences, batch_size=16, device="cpu"):
    """The LSTM's probability of every note of every sequence, given the earlier notes of its song
    (the first note by ``model.start_log_probs``). Returns one float64 array per sequence."""
    was_training = model.training
    model.eval()
    order = sorted(range(len(sequences)), key=lambda i: len(sequences[i]))
    out = [np.zeros(0)] * len(sequences)
    start = torch.exp(model.start_log_probs).cpu().double().numpy()
    try:
        for i in range(0, len(order), batch_size):
            chosen = [j for j in order[i : i + batch_size] if len(sequences[j])]
            batch = [list(sequences[j]) for j in chosen]
            if not batch:
                continue
            longest = max(len(s) for s in batch)
            tokens = torch.zeros(len(batch), longest, dtype=torch.long)
            for row, seq in enumerate(batch):
                tokens[row, : len(seq)] = torch.tensor(seq)
            probs = np.ones((len(batch), longest))
            if longest > 1:
                logits, _ = model(tokens[:, :-1].to(device))
                picked = torch.log_softmax(logits.float(), -1).gather(-1, tokens[:, 1:, None].to(device))[..., 0]
                probs[:, 1:] = torch.exp(picked.double()).cpu().numpy()
            for row, (j, seq) in enumerate(zip(chosen, batch)):
                song = probs[row, : len(seq)]
                song[0] = start[seq[0]]
                out[j] = song
    finally:
        model.train(was_training)
    return out


@dataclass
class Predictions:
    """What a model predicted for every note of some songs (concatenated): the LSTM's probability
    of the note, and the song memory's match length (0: no match) and probability of it."""

    lstm: np.ndarray
    orders: np.ndarray
    remembered: np.ndarray

    def bits(self, weights=None):
        """Sum of ``-log2 p(note)``: ``p`` the LSTM alone, or mixed with the memory by ``weights``."""
        probs = self.lstm if weights is None else mix(self.lstm, self.remembered, self.orders, weights)
        return float(-np.log2(np.maximum(probs, 1e-300)).sum())

    def bits_per_note(self, weights=None):
        return self.bits(weights) / max(len(self.lstm), 1)


def predictions(model, sequences, batch_size=16, device="cpu", memory=True):
    """The ``Predictions`` of ``model`` for ``sequences``; ``memory=False`` skips the song memory's
    lookups (every match length is then 0, i.e. the LSTM alone)."""
    lstm = np.concatenate([np.zeros(0), *note_probabilities(model, sequences, batch_size, device)])
    orders, remembered = np.zeros(len(lstm), dtype=np.int64), np.zeros(len(lstm))
    if memory:
        found = [memory_predictions(s, model.config.vocab_size, model.config.memory_order) for s in sequences]
        orders = np.concatenate([orders[:0], *(o for o, _ in found)])
        remembered = np.concatenate([remembered[:0], *(r for _, r in found)])
    return Predictions(lstm, orders, remembered)


def total_bits(model, sequences, batch_size=16, device="cpu", memory=True):
    """Sum of ``-log2 p(note)`` over every note of every sequence, and the number of notes.

    ``p`` is the model's full prediction: the LSTM mixed with the song memory by the model's
    ``memory_weights`` (all zero until fitted); ``memory=False`` scores the LSTM alone.
    """
    weights = model.memory_weights.cpu().numpy()
    memory = memory and bool(weights.any())
    found = predictions(model, sequences, batch_size, device, memory)
    return found.bits(weights if memory else None), len(found.lstm)


def bits_per_note(model, sequences, batch_size=16, device="cpu", memory=True):
    """Average bits per note of ``model`` over ``sequences`` (lists of tokens); lower is better."""
    bits, notes = total_bits(model, sequences, batch_size, device, memory)
    return bits / max(notes, 1)
