"""Bits per note of a model, teacher-forced over whole songs: the one measure used in training and evaluation."""
from dataclasses import dataclass, fields

import numpy as np
import torch

from ..data.crops import as_sequence
from ..model.echo import LAGS, BarEcho, echo_predictions, mix_echo, mix_into
from ..model.memory import SongMemory, memory_predictions, mix


def _padded(batch, field):
    """The ``field`` arrays of some sequences, zero-padded into one LongTensor (None when absent)."""
    if getattr(batch[0], field) is None:
        return None
    out = torch.zeros(len(batch), max(len(s) for s in batch), dtype=torch.long)
    for row, seq in enumerate(batch):
        out[row, : len(seq)] = torch.as_tensor(getattr(seq, field))
    return out


@torch.no_grad()
def token_log_probs(model, sequences, batch_size=16, device="cpu", full=False):
    """The LSTM's log-probability of every token of every sequence (token lists or ``TokenSequence``),
    given the earlier tokens of its song (the first by ``model.start_log_probs``): one float64 array
    per sequence; with ``full``, the whole distribution at every token, ``[len, vocab]`` arrays."""
    was_training = model.training
    model.eval()
    sequences = [as_sequence(s) for s in sequences]
    order = sorted(range(len(sequences)), key=lambda i: len(sequences[i]))
    out = [np.zeros((0, model.config.vocab_size) if full else 0)] * len(sequences)
    start = model.start_log_probs.cpu().double().numpy()
    try:
        for i in range(0, len(order), batch_size):
            chosen = [j for j in order[i : i + batch_size] if len(sequences[j])]
            if not chosen:
                continue
            batch = [sequences[j] for j in chosen]
            tokens, positions = _padded(batch, "tokens"), _padded(batch, "positions")
            logits, _ = model(tokens.to(device), None if positions is None else positions.to(device))
            logp = torch.log_softmax(logits.double(), -1).cpu()
            for row, (j, seq) in enumerate(zip(chosen, batch)):
                song = torch.cat([torch.as_tensor(start)[None], logp[row, : len(seq) - 1]]).numpy()
                out[j] = song if full else song[np.arange(len(seq)), seq.tokens]
    finally:
        model.train(was_training)
    return out


def note_probabilities(model, sequences, batch_size=16, device="cpu"):
    """The LSTM's probability of every token of every sequence; see :func:`token_log_probs`."""
    return [np.exp(p) for p in token_log_probs(model, sequences, batch_size, device)]


@dataclass
class Predictions:
    """What a model predicted for every token of some songs (concatenated): the LSTM's probability of
    the token; the song memory's match length (0: no match) and probability of it; for each of the
    bar echo's lags, its category (-1: no proposal) and whether it proposed the token; and each
    token's length in steps."""

    lstm: np.ndarray
    orders: np.ndarray
    remembered: np.ndarray
    echo_categories: np.ndarray
    echo_hits: np.ndarray
    steps: np.ndarray

    @classmethod
    def concat(cls, parts):
        """The predictions of several groups of songs, as one (at least one group)."""
        return cls(*(np.concatenate([getattr(p, f.name) for p in parts]) for f in fields(cls)))

    def probs(self, memory_weights=None, echo_weights=None):
        """The probability of every token: the LSTM's, mixed with the memory, then the echo (when
        their weights are given)."""
        probs = self.lstm if memory_weights is None else mix(self.lstm, self.remembered, self.orders, memory_weights)
        return probs if echo_weights is None else mix_echo(probs, self.echo_categories, self.echo_hits, echo_weights)

    def bits(self, memory_weights=None, echo_weights=None):
        """Sum of ``-log2 p(token)`` (see :meth:`probs`)."""
        return float(-np.log2(np.maximum(self.probs(memory_weights, echo_weights), 1e-300)).sum())

    def bits_per_note(self, memory_weights=None, echo_weights=None):
        """Bits per token (a note, or with rhythm also a rest)."""
        return self.bits(memory_weights, echo_weights) / max(len(self.lstm), 1)

    def bits_per_step(self, memory_weights=None, echo_weights=None):
        """Bits per 16th-note step of music: comparable between encodings that cut time differently."""
        return self.bits(memory_weights, echo_weights) / max(float(self.steps.sum()), 1)


def predictions(model, sequences, batch_size=16, device="cpu", memory=True):
    """The ``Predictions`` of ``model`` for ``sequences``; ``memory=False`` skips the song memory's and
    the echo's lookups (the LSTM alone)."""
    sequences = [as_sequence(s) for s in sequences]
    lstm = np.concatenate([np.zeros(0), *note_probabilities(model, sequences, batch_size, device)])
    orders, remembered = np.zeros(len(lstm), dtype=np.int64), np.zeros(len(lstm))
    categories = np.full((len(lstm), LAGS), -1, dtype=np.int64)
    hits = np.zeros((len(lstm), LAGS))
    steps = np.concatenate([np.zeros(0), *(s.lengths for s in sequences)])
    if memory:
        aligned = model.config.memory_aligned
        found = [memory_predictions(s.tokens, model.config.vocab_size, model.config.memory_order,
                                    s.bar_positions() if aligned else None) for s in sequences]
        orders = np.concatenate([orders[:0], *(o for o, _ in found)])
        remembered = np.concatenate([remembered[:0], *(r for _, r in found)])
        echoed = [echo_predictions(s.tokens, s.onsets, s.steps_per_bar, s.bar_offset) for s in sequences]
        categories = np.concatenate([categories[:0], *(c for c, _ in echoed)])
        hits = np.concatenate([hits[:0], *(h for _, h in echoed)])
    return Predictions(lstm, orders, remembered, categories, hits, steps)


def fitted_weights(model):
    """The model's song-memory and echo weights, or None for each that was never fitted."""
    memory, echo = model.memory_weights.cpu().double().numpy(), model.echo_weights.cpu().double().numpy()
    return (memory if memory.any() else None), (echo if echo.any() else None)


def total_bits(model, sequences, batch_size=16, device="cpu", memory=True):
    """Sum of ``-log2 p(token)`` over every token of every sequence, and the number of tokens.

    ``p`` is the model's full prediction: the LSTM mixed with the song memory and the bar echo by
    the model's weights (zero until fitted); ``memory=False`` scores the LSTM alone.
    """
    memory_weights, echo_weights = fitted_weights(model) if memory else (None, None)
    found = predictions(model, sequences, batch_size, device, memory and (memory_weights is not None or
                                                                          echo_weights is not None))
    return found.bits(memory_weights, echo_weights), len(found.lstm)


def bits_per_note(model, sequences, batch_size=16, device="cpu", memory=True):
    """Average bits per token of ``model`` over ``sequences`` (token lists or ``TokenSequence``); lower
    is better. (With the rhythm encoding a token is a note or a rest.)"""
    bits, notes = total_bits(model, sequences, batch_size, device, memory)
    return bits / max(notes, 1)


def mixed_distributions(model, seq, probs, memory_weights=None, echo_weights=None):
    """The network's distributions ``probs`` ``[len, vocab]`` at every token of ``seq`` (a
    ``TokenSequence``), mixed in place with the song memory and then the bar echo by their weights
    (None: that one left out), teacher-forced as generation mixes them; returns ``probs``."""
    aligned = model.config.memory_aligned
    song = SongMemory(model.config.vocab_size, model.config.memory_order, aligned)
    echo = BarEcho(seq.steps_per_bar, seq.bar_offset)
    for i, (token, onset, place) in enumerate(zip(seq.tokens, seq.onsets, seq.bar_positions())):
        position = int(place) if aligned else None
        k, remembered = song.lookup(position)
        if memory_weights is not None and k:
            probs[i] = (1 - memory_weights[k]) * probs[i] + memory_weights[k] * remembered
        if echo_weights is not None:
            mix_into(probs[i], echo.proposals(onset), echo_weights)
        song.add(token, position)
        echo.add(token, onset)
    return probs


def top1_accuracy(model, sequences, memory=True, batch_size=16, device="cpu"):
    """Share of tokens that are the model's likeliest guess, teacher-forced (the LSTM mixed with the
    song memory and the echo by their fitted weights, unless ``memory`` is False)."""
    memory_weights, echo_weights = fitted_weights(model) if memory else (None, None)
    hits = total = 0
    for seq, logp in zip(sequences, token_log_probs(model, sequences, batch_size, device, full=True)):
        seq = as_sequence(seq)
        probs = mixed_distributions(model, seq, np.exp(logp), memory_weights, echo_weights)
        hits += int(np.sum(probs.argmax(-1) == seq.tokens))
        total += len(seq.tokens)
    return hits / max(total, 1)
