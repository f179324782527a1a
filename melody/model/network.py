"""The network: token (and bar-position) embedding, a stacked LSTM, and a read-out over the tokens.

With the rhythm encoding a token is a (pitch or rest, length) pair: 38 x 16 = 608 of them. The
read-out is factored, ``p(pitch) * p(length | pitch)``: one head over the 38 pitches, one over the 16
lengths plus a learned bias of each length for each pitch (rests are long more often than notes).
That shares what is learnt about a pitch across its lengths, where one 608-way softmax would have to
learn C4-eighth and C4-quarter separately from a few hundred thousand notes. ``forward`` returns the
joint log-probabilities, so everything downstream treats them as logits.
"""
from dataclasses import asdict, dataclass

import torch
from torch import nn

from ..music.encoding import BAR_POSITIONS, METER_CLASSES
from ..music.notes import VOCAB_SIZE
from .echo import CATEGORIES as ECHO_CATEGORIES
from .form import SIZE as FORM_PLAN_SIZE


@dataclass(frozen=True)
class ModelConfig:
    """Settings that rebuild a ``MelodyLSTM``; stored in every checkpoint."""

    vocab_size: int = VOCAB_SIZE
    embedding_size: int = 64
    hidden_size: int = 256
    num_layers: int = 2
    dropout: float = 0.3
    memory_order: int = 12  # longest context the song memory matches (see melody/model/memory.py)
    memory_aligned: bool = False  # the song memory's contexts include the bar position (rhythm models)
    length_slots: int = 1  # lengths per pitch in the vocabulary (16 with rhythm; 1: a plain softmax)
    bar_positions: int = 0  # bar positions the model is told (32 with rhythm; 0: none)

    @classmethod
    def for_encoding(cls, encoding, **settings):
        """The settings of a model for ``encoding`` (an ``EncodingConfig``): its token layout (the
        vocabulary, the lengths per pitch, the bar positions, an aligned memory) comes from the encoding,
        the rest from ``settings`` or the defaults."""
        layout = dict(vocab_size=encoding.vocab_size, length_slots=encoding.length_slots,
                      bar_positions=BAR_POSITIONS if encoding.rhythm else 0, memory_aligned=encoding.rhythm)
        return cls(**{**layout, **settings})

    def to_dict(self):
        return asdict(self)

    @property
    def pitch_slots(self):
        return self.vocab_size // self.length_slots

    @property
    def position_inputs(self):
        """Size of the position input: a bar position for each class of bar length (0: no input)."""
        return self.bar_positions * (len(METER_CLASSES) + 1)


class MelodyLSTM(nn.Module):
    """Predicts the next token of a melody from the tokens so far (and where each next one starts).

    Five buffers are saved with the weights: ``start_log_probs``, the distribution of a melody's
    first token (the training data's token frequencies), which scores the first note in evaluation
    and starts generation from an empty seed; ``memory_weights``, the weight of the song memory for
    each match length; ``echo_weights``, the weight of the bar echo for each of its categories
    (see ``melody.model.echo``); ``form_plan``, the numbers of the form plan (``melody.model.form``); and
    ``length_calibration``, a log-factor per token for generation (``melody.model.calibration``). All but
    the first are 0 (not used) until fitted after training.
    """

    def __init__(self, config=ModelConfig()):
        super().__init__()
        self.config = config
        self.embedding = nn.Embedding(config.vocab_size, config.embedding_size)
        if config.position_inputs:
            self.position_embedding = nn.Embedding(config.position_inputs, config.embedding_size)
        self.lstm = nn.LSTM(config.embedding_size, config.hidden_size, config.num_layers, batch_first=True,
                            dropout=config.dropout if config.num_layers > 1 else 0.0)
        self.dropout = nn.Dropout(config.dropout)
        if config.length_slots == 1:
            self.head = nn.Linear(config.hidden_size, config.vocab_size)
        else:
            self.pitch_head = nn.Linear(config.hidden_size, config.pitch_slots)
            self.length_head = nn.Linear(config.hidden_size, config.length_slots)
            self.length_given_pitch = nn.Parameter(torch.zeros(config.pitch_slots, config.length_slots))
        uniform = torch.full((config.vocab_size,), -torch.log(torch.tensor(float(config.vocab_size))))
        self.register_buffer("start_log_probs", uniform)
        self.register_buffer("memory_weights", torch.zeros(config.memory_order + 1))
        self.register_buffer("echo_weights", torch.zeros(ECHO_CATEGORIES))
        self.register_buffer("form_plan", torch.zeros(FORM_PLAN_SIZE))
        self.register_buffer("length_calibration", torch.zeros(config.vocab_size))

    def forward(self, tokens, positions=None, state=None):
        """Logits of the next token after every position (joint log-probabilities when factored).

        Parameters
        ----------
        tokens : LongTensor ``[batch, time]``
        positions : LongTensor ``[batch, time]``, optional
            Where the token after each one starts in its bar (``Melody.position_inputs``); needed
            when the model has ``bar_positions``.
        state : (h, c) or None
            LSTM state to continue from; None starts from zeros.

        Returns
        -------
        (logits ``[batch, time, vocab]``, new state)
        """
        x = self.embedding(tokens)
        if self.config.position_inputs:
            if positions is None:
                raise ValueError("this model needs the bar position of every next token")
            x = x + self.position_embedding(positions)
        y, state = self.lstm(self.dropout(x), state)
        return self.read_out(self.dropout(y)), state

    def read_out(self, hidden):
        """Logits over the tokens from LSTM outputs ``[..., hidden]``."""
        if self.config.length_slots == 1:
            return self.head(hidden)
        pitch = torch.log_softmax(self.pitch_head(hidden), -1)
        length = torch.log_softmax(self.length_head(hidden)[..., None, :] + self.length_given_pitch, -1)
        return (pitch[..., None] + length).flatten(-2)

    def set_start_distribution(self, counts):
        """Set ``start_log_probs`` from token counts (add-one smoothed)."""
        counts = torch.as_tensor(counts, dtype=torch.float32) + 1.0
        self.start_log_probs.copy_(torch.log(counts / counts.sum()))

