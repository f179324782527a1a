"""Training batches: random crops of songs that wrap from a song's end back to its start (game songs
loop), and the token sequences (with their bar positions) that the model reads."""
from typing import NamedTuple

import numpy as np
import torch


class TokenSequence(NamedTuple):
    """A song as the model reads it: its tokens; for a model told bar positions, where the token
    after each one starts (``Melody.position_inputs``; None for the classic encoding); and when each
    token starts (steps) on its bar grid (for the bar echo, ``melody.model.echo``)."""

    tokens: np.ndarray
    positions: object = None
    onsets: object = None
    steps_per_bar: int = 16
    bar_offset: int = 0
    lengths: object = None  # each token's length in 16th steps

    def __len__(self):
        return len(self.tokens)

    def bar_positions(self):
        """Where in its bar each token starts, in steps."""
        return (np.asarray(self.onsets) - self.bar_offset) % self.steps_per_bar


def token_sequence(melody, config):
    """The ``TokenSequence`` of a ``Melody`` under an ``EncodingConfig``."""
    tokens = np.asarray(melody.tokens, dtype=np.int64)
    steps = config.token_table()[1][tokens]
    onsets = melody.start_step + np.r_[0, np.cumsum(steps)[:-1]] if len(tokens) else np.zeros(0, np.int64)
    return TokenSequence(tokens, melody.position_inputs(config) if config.rhythm else None, onsets,
                         melody.steps_per_bar, melody.bar_offset, steps)


def as_sequence(sequence):
    """A ``TokenSequence`` of a ``TokenSequence`` or a plain list of tokens (then one eighth each)."""
    if isinstance(sequence, TokenSequence):
        return sequence
    tokens = np.asarray(sequence, dtype=np.int64)
    return TokenSequence(tokens, onsets=2 * np.arange(len(tokens)), lengths=np.full(len(tokens), 2))


class CropSampler:
    """Draws cyclic random crops from a list of token sequences (``TokenSequence`` or token lists).

    Every note of every song is equally likely to start a crop; a crop that runs past the end of
    its song continues at the song's start (positions alongside).
    """

    def __init__(self, sequences, crop_length, generator=None):
        sequences = [as_sequence(s) for s in sequences]
        lengths = np.array([len(s) for s in sequences], dtype=np.int64)
        if len(lengths) == 0 or lengths.min() < 1:
            raise ValueError("CropSampler needs at least one non-empty sequence")
        self.crop_length = int(crop_length)
        self.tokens = torch.tensor(np.concatenate([s.tokens for s in sequences]))
        with_positions = sequences[0].positions is not None
        self.positions = torch.tensor(np.concatenate([s.positions for s in sequences])) if with_positions else None
        self.lengths = torch.tensor(lengths)
        self.offsets = torch.tensor(np.r_[0, np.cumsum(lengths)[:-1]])
        self.generator = generator if generator is not None else torch.Generator().manual_seed(0)
        self.total_notes = int(lengths.sum())

    def sample(self, batch_size):
        """A LongTensor of tokens ``[batch_size, crop_length + 1]`` (inputs are ``[:, :-1]``, targets
        ``[:, 1:]``); with positions, the pair ``(tokens, positions)`` of that shape."""
        starts = torch.randint(self.total_notes, (batch_size,), generator=self.generator)
        song = torch.searchsorted(self.offsets, starts, right=True) - 1
        position = starts - self.offsets[song]
        steps = torch.arange(self.crop_length + 1)
        index = self.offsets[song, None] + (position[:, None] + steps) % self.lengths[song, None]
        if self.positions is None:
            return self.tokens[index]
        return self.tokens[index], self.positions[index]


def cyclic_crops(sequences, crop_length, batch_size, generator=None):
    """One batch of cyclic random crops; see :class:`CropSampler`."""
    return CropSampler(sequences, crop_length, generator).sample(batch_size)
