"""Bits per note of a model, teacher-forced over whole songs: the one measure used in training and evaluation."""
import math

import torch
import torch.nn.functional as F


@torch.no_grad()
def total_bits(model, sequences, batch_size=16, device="cpu"):
    """Sum of ``-log2 p(note)`` over every note of every sequence, and the number of notes.

    The first note of a song is scored by ``model.start_log_probs``, every later one by the LSTM
    given all earlier notes of the song.
    """
    was_training = model.training
    model.eval()
    bits, notes = 0.0, 0
    ordered = sorted((list(s) for s in sequences if len(s)), key=len)
    try:
        for i in range(0, len(ordered), batch_size):
            batch = ordered[i : i + batch_size]
            longest = max(len(s) for s in batch)
            tokens = torch.zeros(len(batch), longest, dtype=torch.long)
            mask = torch.zeros(len(batch), longest, dtype=torch.bool)
            for row, seq in enumerate(batch):
                tokens[row, : len(seq)] = torch.tensor(seq)
                mask[row, : len(seq)] = True
            tokens, mask = tokens.to(device), mask.to(device)
            first = -model.start_log_probs[tokens[:, 0]].sum()
            nats = first.item()
            if longest > 1:
                logits, _ = model(tokens[:, :-1])
                loss = F.cross_entropy(logits.transpose(1, 2), tokens[:, 1:], reduction="none")
                nats += loss[mask[:, 1:]].sum().item()
            bits += nats / math.log(2)
            notes += int(mask.sum())
    finally:
        model.train(was_training)
    return bits, notes


def bits_per_note(model, sequences, batch_size=16, device="cpu"):
    """Average bits per note of ``model`` over ``sequences`` (lists of tokens); lower is better."""
    bits, notes = total_bits(model, sequences, batch_size, device)
    return bits / max(notes, 1)
