"""Bits per note of a model, teacher-forced over whole songs: the one measure used in training and evaluation."""
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


def total_bits(model, sequences, batch_size=16, device="cpu", memory=True):
    """Sum of ``-log2 p(note)`` over every note of every sequence, and the number of notes.

    ``p`` is the model's full prediction: the LSTM mixed with the song memory by the model's
    ``memory_weights`` (all zero until fitted); ``memory=False`` scores the LSTM alone.
    """
    weights = model.memory_weights.cpu().numpy()
    bits, notes = 0.0, 0
    for seq, probs in zip(sequences, note_probabilities(model, sequences, batch_size, device)):
        if memory and weights.any() and len(seq):
            orders, remembered = memory_predictions(seq, model.config.vocab_size, model.config.memory_order)
            probs = mix(probs, remembered, orders, weights)
        bits += float(-np.log2(np.maximum(probs, 1e-300)).sum())
        notes += len(seq)
    return bits, notes


def bits_per_note(model, sequences, batch_size=16, device="cpu", memory=True):
    """Average bits per note of ``model`` over ``sequences`` (lists of tokens); lower is better."""
    bits, notes = total_bits(model, sequences, batch_size, device, memory)
    return bits / max(notes, 1)
