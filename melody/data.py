"""Training batches: random crops of songs that wrap from a song's end back to its start (game songs loop)."""
import numpy as np
import torch


class CropSampler:
    """Draws cyclic random crops from a list of token sequences.

    Every note of every song is equally likely to start a crop; a crop that runs past the end of
    its song continues at the song's start.
    """

    def __init__(self, sequences, crop_length, generator=None):
        lengths = np.array([len(s) for s in sequences], dtype=np.int64)
        if len(lengths) == 0 or lengths.min() < 1:
            raise ValueError("CropSampler needs at least one non-empty sequence")
        self.crop_length = int(crop_length)
        self.tokens = torch.tensor(np.concatenate([np.asarray(s, dtype=np.int64) for s in sequences]))
        self.lengths = torch.tensor(lengths)
        self.offsets = torch.tensor(np.r_[0, np.cumsum(lengths)[:-1]])
        self.generator = generator if generator is not None else torch.Generator().manual_seed(0)
        self.total_notes = int(lengths.sum())

    def sample(self, batch_size):
        """A LongTensor of shape ``[batch_size, crop_length + 1]``: inputs are ``[:, :-1]``, targets ``[:, 1:]``."""
        starts = torch.randint(self.total_notes, (batch_size,), generator=self.generator)
        song = torch.searchsorted(self.offsets, starts, right=True) - 1
        position = starts - self.offsets[song]
        steps = torch.arange(self.crop_length + 1)
        index = self.offsets[song, None] + (position[:, None] + steps) % self.lengths[song, None]
        return self.tokens[index]


def cyclic_crops(sequences, crop_length, batch_size, generator=None):
    """One batch of cyclic random crops; see :class:`CropSampler`."""
    return CropSampler(sequences, crop_length, generator).sample(batch_size)
