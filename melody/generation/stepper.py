"""A fast one-note-at-a-time LSTM for generation (compiled steps: ``melody.generation.kernels``).

Calling the torch modules once per note costs far more in per-call overhead than in arithmetic.
Here each layer's step is one compiled loop over weights that are prepared once: the first layer's
input projection is precomputed for each token (an embedding row times W_ih, plus both biases),
the g-gate rows are doubled so a single sigmoid serves all four gates (tanh(x) = 2 sigmoid(2x) - 1),
and every weight is negated so that the sigmoid is 1 / (1 + exp(product)).
"""
import numpy as np
import torch

from .kernels import NO_POSITIONS, factored_probs, first_layer, joint_probs, upper_layer

_NO_ROWS = np.zeros((0, 0), dtype=np.float32)
_NO_FACTORS = np.zeros(0)
SMALL_BATCH = 4  # up to this many melodies the compiled loop multiplies as fast as BLAS (memory-bound)


def stepper_for(model):
    """The model's ``LstmStepper``, prepared once and rebuilt only when its weights change."""
    version = tuple(t._version for t in model.parameters())
    cached = getattr(model, "_stepper", None)
    if cached is None or cached[0] != version:
        cached = (version, LstmStepper(model))
        model._stepper = cached
    return cached[1]


class LstmStepper:
    """The network of a ``MelodyLSTM`` (in eval mode), one step at a time, for a batch of melodies."""

    def __init__(self, model):
        hidden = model.config.hidden_size
        lstm = model.lstm
        scale = -np.ones(4 * hidden, dtype=np.float32)  # negated: the products are -x, ready for exp
        scale[2 * hidden : 3 * hidden] = -2.0  # gate order i, f, g, o: g gets tanh via a doubled sigmoid

        def weights(name, layer):
            return getattr(lstm, f"{name}_l{layer}").detach().cpu().double().numpy()

        with torch.no_grad():
            embedded = model.embedding.weight.detach().cpu().double().numpy()
        self.token_gates = ((embedded @ weights("weight_ih", 0).T + weights("bias_ih", 0) + weights("bias_hh", 0))
                            * scale).astype(np.float32)
        # The bar position's embedding enters the first layer the same way, without the biases.
        self.position_gates = None
        if model.config.position_inputs:
            placed = model.position_embedding.weight.detach().cpu().double().numpy()
            self.position_gates = ((placed @ weights("weight_ih", 0).T) * scale).astype(np.float32)
        self.recurrent = [np.ascontiguousarray((weights("weight_hh", 0).T * scale).astype(np.float32))]
        self.biases = [None]
        for layer in range(1, model.config.num_layers):
            stacked = np.vstack([weights("weight_ih", layer).T, weights("weight_hh", layer).T]) * scale
            self.recurrent.append(np.ascontiguousarray(stacked.astype(np.float32)))
            self.biases.append(((weights("bias_ih", layer) + weights("bias_hh", layer)) * scale).astype(np.float32))
        self.factored = model.config.length_slots > 1

        def linear(layer):
            return (np.ascontiguousarray(layer.weight.detach().cpu().numpy().T.astype(np.float32)),
                    layer.bias.detach().cpu().numpy().astype(np.float32))

        if self.factored:
            self.pitch_head, self.length_head = linear(model.pitch_head), linear(model.length_head)
            self.length_given_pitch = model.length_given_pitch.detach().cpu().numpy().astype(np.float32)
        else:
            self.head, self.head_bias = linear(model.head)
        self.hidden = hidden
        self.vocab_size = model.config.vocab_size

    def start(self, h, c):
        """A run from LSTM states ``h``, ``c`` (``[layers, batch, hidden]`` tensors, as torch returns
        them). Runs own their buffers, so one stepper serves several threads at once."""
        return StepperRun(self, h, c)


class StepperRun:
    """The state of one batch of melodies being stepped through an ``LstmStepper``."""

    def __init__(self, weights, h, c):
        self.weights = weights
        n, layers, batch = weights.hidden, len(weights.recurrent), h.shape[1]
        # layer l reads [h_{l-1}, h_l] side by side, so both live in one buffer per layer
        self.inputs = [np.zeros((batch, 2 * n), np.float32) for _ in range(layers)]
        self.c = [c[layer].cpu().numpy().astype(np.float32) for layer in range(layers)]
        for layer in range(layers):
            self.inputs[layer][:, n:] = h[layer].cpu().numpy()
        self.gates = np.empty((batch, 4 * n), np.float32)

    def step(self, tokens, positions=None):
        """Advance every melody of the batch by one token (an int array; with ``positions``, where the
        next token starts in its bar); returns the logits ``[batch, vocab]`` (joint log-probabilities
        for a factored read-out)."""
        self.step_state(tokens, positions)
        return read_out(self.weights, self.inputs[-1][:, self.weights.hidden :])

    def step_state(self, tokens, positions=None):
        """Advance the LSTM's state by one token (see :meth:`step`), without reading out."""
        w = self.weights
        tokens = np.asarray(tokens, dtype=np.int64)
        positions = NO_POSITIONS if w.position_gates is None else np.asarray(positions, dtype=np.int64)
        position_gates = _NO_ROWS if w.position_gates is None else w.position_gates
        blas = len(tokens) > SMALL_BATCH  # a large batch: the products by BLAS, which blocks them for the cache
        n = w.hidden
        if blas:
            np.matmul(self.inputs[0][:, n:], w.recurrent[0], out=self.gates)
        first_layer(self.inputs[0], w.recurrent[0], w.token_gates, tokens, position_gates, positions, self.gates,
                    self.c[0], blas)
        for layer in range(1, len(w.recurrent)):
            if blas:
                self.inputs[layer][:, :n] = self.inputs[layer - 1][:, n:]
                np.matmul(self.inputs[layer], w.recurrent[layer], out=self.gates)
            upper_layer(self.inputs[layer - 1], self.inputs[layer], w.recurrent[layer], w.biases[layer], self.gates,
                        self.c[layer], blas)

    def step_probs(self, tokens, positions=None, factors=None):
        """Like :meth:`step`, returning the probabilities of the next token ``[batch, vocab]`` (float64),
        times the length calibration's ``factors`` and renormalised, when given."""
        self.step_state(tokens, positions)
        return read_out_probs(self.weights, self.inputs[-1][:, self.weights.hidden :], factors)

    def reorder(self, indices):
        """Keep the melodies at ``indices`` (repeats allowed), as particle resampling needs."""
        for layer in range(len(self.inputs)):
            self.inputs[layer] = self.inputs[layer][indices]
            self.c[layer] = self.c[layer][indices]
        batch = len(indices)
        if self.gates.shape[0] != batch:
            self.gates = np.empty((batch, self.gates.shape[1]), np.float32)


def _log_softmax(x):
    x = x - x.max(-1, keepdims=True)
    return x - np.log(np.exp(x).sum(-1, keepdims=True))


def read_out_probs(w, hidden, factors=None):
    """The probabilities ``softmax(read_out(...))``, computed directly (a factored read-out is a product
    of two small softmaxes: no log and exp of the 608 joint values), times ``factors`` (renormalised)."""
    out = np.empty((len(hidden), w.vocab_size))
    factors = _NO_FACTORS if factors is None else factors
    if w.factored:
        factored_probs(hidden, *w.pitch_head, *w.length_head, w.length_given_pitch, factors, out)
    else:
        joint_probs(hidden, w.head, w.head_bias, factors, out)
    return out


def read_out(w, hidden):
    """The logits of ``MelodyLSTM.read_out``, in numpy, from the last layer's outputs ``[batch, hidden]``."""
    if not w.factored:
        logits = hidden @ w.head
        logits += w.head_bias
        return logits
    pitch = _log_softmax(hidden @ w.pitch_head[0] + w.pitch_head[1])
    length = _log_softmax((hidden @ w.length_head[0] + w.length_head[1])[:, None, :] + w.length_given_pitch)
    return (pitch[:, :, None] + length).reshape(len(hidden), -1)
