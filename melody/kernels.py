"""The per-step arithmetic of generation, compiled with numba.

A generated token costs one step of the network (two matrix-vector products over 3 MB of weights,
about 40 us) and then a few dozen small operations: the LSTM's gate non-linearities, the read-out's
softmaxes, the song memory's and the bar echo's mixing, the loop guard's bookkeeping, the draw.
As numpy calls on arrays of 1 to 1,024 values each of those costs one to two microseconds of call
overhead, which together took five times the arithmetic. Here each one is a single compiled loop
over the batch. The classes that own the state (``stepper``, ``batched``, ``guard``) call these;
the formulas are theirs and are written out in their docstrings, and the tests compare every
kernel with the one-melody reference implementations.

Compiled code is cached next to this file (``__pycache__``) on first use, so only the first run on
a machine pays for the compilation (a few seconds).
"""
import numpy as np
from numba import njit

_compiled = njit(cache=True, nogil=True)  # nogil: the server's generations run side by side
NO_POSITIONS = np.zeros(0, dtype=np.int64)  # "no bar positions", for kernels that take arrays only


@_compiled
def _cell(gates, c, h):
    """An LSTM cell from its gate products: ``gates`` ``[4n]`` hold the negated pre-activations (the g
    gate's doubled, so that one sigmoid serves all four: tanh(x) = 2 sigmoid(2x) - 1); updates the
    cell state ``c`` and writes the output ``h``."""
    n = c.shape[0]
    one = np.float32(1.0)
    for j in range(4 * n):
        gates[j] = one / (one + np.exp(gates[j]))
    for k in range(n):
        cell = c[k] * gates[n + k] + gates[k] * (np.float32(2.0) * gates[2 * n + k] - one)
        c[k] = cell
        h[k] = np.tanh(cell) * gates[3 * n + k]


@_compiled
def _add_product(inputs, first, count, weights, gates):
    """``gates += inputs[:, first : first + count] @ weights``, reading each weight row once for the batch."""
    batch, width = gates.shape
    for k in range(count):
        row = weights[k]
        for b in range(batch):
            value = inputs[b, first + k]
            out = gates[b]
            for j in range(width):
                out[j] += value * row[j]


@_compiled
def first_layer(state, weights, token_gates, tokens, position_gates, positions, gates, c, multiplied):
    """The first layer's step: ``state`` ``[batch, 2n]`` holds its output in the second half (read as
    the recurrent input, then overwritten); the input is a precomputed row per token (and per bar
    position, when ``positions`` is not empty). ``multiplied``: ``gates`` already hold the recurrent
    product (BLAS does it better for a large batch)."""
    batch, n = c.shape
    for b in range(batch):
        if multiplied:
            gates[b] += token_gates[tokens[b]]
        else:
            gates[b] = token_gates[tokens[b]]
        if positions.shape[0]:
            gates[b] += position_gates[positions[b]]
    if not multiplied:
        _add_product(state, n, n, weights, gates)
    for b in range(batch):
        _cell(gates[b], c[b], state[b, n:])


@_compiled
def upper_layer(below, state, weights, bias, gates, c, multiplied):
    """A later layer's step: ``state`` ``[batch, 2n]`` gets the layer below's new output in its first
    half (unless ``multiplied``: then it has it, and ``gates`` hold its product with ``weights``);
    the layer's own output (second half) is read, then overwritten."""
    batch, n = c.shape
    for b in range(batch):
        if multiplied:
            gates[b] += bias
        else:
            state[b, :n] = below[b, n:]
            gates[b] = bias
    if not multiplied:
        _add_product(state, 0, 2 * n, weights, gates)
    for b in range(batch):
        _cell(gates[b], c[b], state[b, n:])


@_compiled
def _linear(hidden, weights, bias):
    """``hidden @ weights + bias`` for one row, in float32 as the network computes it."""
    out = bias.copy()
    for k in range(hidden.shape[0]):
        value = hidden[k]
        for j in range(out.shape[0]):
            out[j] += value * weights[k, j]
    return out


@_compiled
def _softmax_into(logits, out):
    """``out = softmax(logits)`` in float64 (``logits`` any float type)."""
    top = -np.inf
    for j in range(logits.shape[0]):
        top = max(top, np.float64(logits[j]))
    total = 0.0
    for j in range(logits.shape[0]):
        out[j] = np.exp(np.float64(logits[j]) - top)
        total += out[j]
    for j in range(logits.shape[0]):
        out[j] /= total


@_compiled
def _calibrate_row(row, factors):
    """``row * factors``, renormalised, in place (no factors: unchanged)."""
    if factors.shape[0]:
        total = 0.0
        for j in range(row.shape[0]):
            row[j] *= factors[j]
            total += row[j]
        for j in range(row.shape[0]):
            row[j] /= total


@_compiled
def joint_probs(hidden, head, head_bias, factors, out):
    """``out[b] = softmax(hidden[b] @ head + head_bias)`` (float64), then the length calibration's
    ``factors`` (empty: none)."""
    for b in range(hidden.shape[0]):
        _softmax_into(_linear(hidden[b], head, head_bias), out[b])
        _calibrate_row(out[b], factors)


@_compiled
def factored_probs(hidden, pitch_head, pitch_bias, length_head, length_bias, length_given_pitch, factors, out):
    """A factored read-out's probabilities ``p(pitch) p(length | pitch)`` (the token of pitch slot ``i``
    and length slot ``j`` is ``i * lengths + j``), each a softmax of its logits (the length's: the
    shared ones plus the pitch's own row of ``length_given_pitch``), then the calibration ``factors``."""
    pitches, lengths = length_given_pitch.shape
    pitch = np.empty(pitches)
    length = np.empty(lengths)
    logits = np.empty(lengths, np.float32)
    for b in range(hidden.shape[0]):
        _softmax_into(_linear(hidden[b], pitch_head, pitch_bias), pitch)
        shared = _linear(hidden[b], length_head, length_bias)
        for i in range(pitches):
            for j in range(lengths):
                logits[j] = shared[j] + length_given_pitch[i, j]
            _softmax_into(logits, length)
            for j in range(lengths):
                out[b, i * lengths + j] = pitch[i] * length[j]
        _calibrate_row(out[b], factors)


@_compiled
def memory_add(tokens, positions, match, length, new_tokens, new_positions, max_order):
    """Append ``new_tokens`` (and their bar positions, when ``new_positions`` is not empty) at column
    ``length``; ``match[r, j]`` becomes how many tokens the history before token ``j`` shares with
    the end of the whole history (at most ``max_order``)."""
    for r in range(tokens.shape[0]):
        token = new_tokens[r]
        for j in range(length - 1, -1, -1):  # backwards: each update reads the old value before it
            match[r, j + 1] = min(match[r, j] + 1, max_order) if tokens[r, j] == token else 0
        match[r, 0] = 0
        tokens[r, length] = token
        if new_positions.shape[0]:
            positions[r, length] = new_positions[r]


@_compiled
def memory_mix(probs, tokens, positions, match, length, at, weights, out):
    """``out[r] = (1 - w) probs[r] + w memory[r]``: the memory proposes every token that followed the
    longest context seen before (``k`` tokens; with ``at`` not empty, only contexts at the same bar
    position count), in proportion to how often; ``w = weights[k]``."""
    vocab = probs.shape[1]
    counts = np.zeros(vocab, np.int64)
    for r in range(probs.shape[0]):
        longest = 0
        for j in range(length):
            if match[r, j] > longest and (at.shape[0] == 0 or positions[r, j] == at[r]):
                longest = match[r, j]
        w = weights[longest]
        for v in range(vocab):
            out[r, v] = (1 - w) * probs[r, v]
        if longest == 0:
            continue
        total = 0
        for j in range(length):
            if match[r, j] >= longest and (at.shape[0] == 0 or positions[r, j] == at[r]):
                counts[tokens[r, j]] += 1
                total += 1
        for v in range(vocab):
            if counts[v]:
                out[r, v] += w * (counts[v] / total)
                counts[v] = 0


@_compiled
def _echo_found(at, r, column, fixed, first_bar, bar, onset, found):
    """The token that started one lag before ``onset`` (at ``column``) for each fixed lag, then back to
    the first bar (none before there is one, or from the first bar itself); -1: none."""
    lags = fixed.shape[0]
    for i in range(lags):
        found[i] = at[r, column - fixed[i]]
    top = (onset - first_bar) // bar * bar if first_bar >= 0 else 0
    found[lags] = at[r, column - top] if top > 0 else -1


@_compiled
def echo_mix(probs, at, origin, fixed, first_bar, bar, offset, categories, onsets, weights, max_total):
    """Mix each melody's echo proposals into ``probs`` (in place): ``(1 - sum w) p + sum w [token =
    proposal]``, ``w`` the weight of each proposing lag's category (its run, and +1 when the onset
    starts a bar), all scaled down together when they would pass ``max_total``."""
    lags = categories.shape[1]
    found = np.empty(lags, np.int64)
    w = np.empty(lags)
    for r in range(probs.shape[0]):
        onset = onsets[r]
        _echo_found(at, r, onset - origin, fixed, first_bar, bar, onset, found)
        bar_start = 1 if (onset - offset) % bar == 0 else 0
        total = 0.0
        for i in range(lags):
            w[i] = weights[categories[r, i] + bar_start] if found[i] >= 0 else 0.0
            total += w[i]
        if total > max_total:
            scale = max_total / total
            total = 0.0
            for i in range(lags):
                w[i] *= scale
                total += w[i]
        for v in range(probs.shape[1]):
            probs[r, v] *= 1 - total
        for i in range(lags):
            if found[i] >= 0:
                probs[r, found[i]] += w[i]


@_compiled
def echo_add(at, origin, fixed, first_bar, bar, runs, categories, run_buckets, tokens, onsets):
    """Record each melody's token at its onset: a lag's run grows where the token is the one it found,
    else it starts again; its weight category (before "starts a bar") follows the run's bucket."""
    lags = runs.shape[1]
    found = np.empty(lags, np.int64)
    for r in range(at.shape[0]):
        column = onsets[r] - origin
        _echo_found(at, r, column, fixed, first_bar, bar, onsets[r], found)
        for i in range(lags):
            runs[r, i] = runs[r, i] + 1 if found[i] == tokens[r] else 0
            bucket = 0
            while bucket + 1 < run_buckets.shape[0] and run_buckets[bucket + 1] <= runs[r, i]:
                bucket += 1
            categories[r, i] = (i * run_buckets.shape[0] + bucket) * 2
        at[r, column] = tokens[r]


@_compiled
def plan_mix(probs, at, origin, onsets, lags, weight):
    """Give each melody's planned restatement (the token that started ``lags[r]`` steps before its
    onset; lag 0: none) the share ``weight`` of ``probs`` (in place)."""
    for r in range(probs.shape[0]):
        if lags[r] <= 0:
            continue
        token = at[r, onsets[r] - origin - lags[r]]
        if token >= 0:
            for v in range(probs.shape[1]):
                probs[r, v] *= 1 - weight
            probs[r, token] += weight


@_compiled
def watch_add(recent, runs, looping, pitches, longest, run_limits):
    """The loop guard's update for each melody that played (pitch >= 0; a rest changes nothing):
    ``runs[r, p - 1]`` counts the last notes equal to the note ``p`` before them (at most
    ``longest[p - 1]``), the pitch joins ``recent``, and ``looping[r]`` becomes the pitch that would
    extend the shortest period whose run has reached its limit (-1: none)."""
    window, periods = recent.shape[1], runs.shape[1]
    for r in range(recent.shape[0]):
        new = pitches[r]
        if new < 0:
            continue
        for p in range(periods):
            runs[r, p] = min(runs[r, p] + 1, longest[p]) if recent[r, window - 1 - p] == new else 0
        for j in range(window - 1):
            recent[r, j] = recent[r, j + 1]
        recent[r, window - 1] = new
        looping[r] = -1
        for p in range(periods):
            if runs[r, p] >= run_limits[p]:
                looping[r] = recent[r, window - 1 - p]
                break


@_compiled
def choose(probs, draws, out):
    """For each row, the first token whose cumulative probability reaches its uniform draw (the last
    token when rounding leaves the total short of it)."""
    vocab = probs.shape[1]
    for r in range(probs.shape[0]):
        total = 0.0
        chosen = 0
        for v in range(vocab):
            total += probs[r, v]
            if total < draws[r]:
                chosen += 1
            else:
                break
        out[r] = min(chosen, vocab - 1)


@_compiled
def any_bar_ahead(current, onsets, first_bar, bar):
    """Whether some row's onset lies past the bar ``current[r]`` (bars of ``bar`` steps from ``first_bar``)."""
    for r in range(current.shape[0]):
        if (onsets[r] - first_bar) // bar > current[r]:
            return True
    return False


@_compiled
def advance_clock(tokens, pitch_of_token, steps_of_token, now, silent, bar_offset, steps_per_bar, pitches, steps,
                  new_now, new_place, new_silent):
    """Each melody's token played at ``now``: its pitch (-1: a rest) and length, the next onset, where
    that lies in its bar, and the steps of rest in a row (0 once a note plays)."""
    for r in range(tokens.shape[0]):
        pitch, length = pitch_of_token[tokens[r]], steps_of_token[tokens[r]]
        pitches[r], steps[r] = pitch, length
        new_now[r] = now[r] + length
        new_place[r] = (new_now[r] - bar_offset) % steps_per_bar
        new_silent[r] = silent[r] + length if pitch < 0 else 0


@_compiled
def any_guarded(looping, silent, limit):
    """Whether some melody is looping (``looping`` >= 0) or has rested ``limit`` steps in a row."""
    for r in range(looping.shape[0]):
        if looping[r] >= 0 or silent[r] >= limit:
            return True
    return False


@_compiled
def largest(values):
    """The largest of a non-empty int array (without numpy's reduction machinery, for one-row arrays)."""
    top = values[0]
    for v in values:
        top = max(top, v)
    return top
