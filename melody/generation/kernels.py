"""The per-step arithmetic of generation, compiled with numba.

A generated token costs one step of the network (two matrix-vector products over 3 MB of weights,
about 40 us) and then a few dozen small operations: the LSTM's gate non-linearities, the read-out's
softmaxes, the song memory's and the bar echo's mixing, the loop guard's bookkeeping, the draw.
As numpy calls on arrays of 1 to 1,024 values each of those costs one to two microseconds of call
overhead, which together took five times the arithmetic. Here each one is a single compiled loop
over the batch. The classes that own the state (``stepper``, ``batched``, ``guard``) call these;
the formulas are theirs and are written out in their docstrings, and the tests compare every
kernel with the one-melody reference implementations.

Compiled code does not check its indices: an index past an array reads or writes whatever memory
lies there, and can take the whole server down. So every kernel here that indexes with values it is
given first checks them (``_check_*``: tokens against the vocabulary, onsets against the echo's
columns, bar positions against their table, shapes against each other) and raises
``KernelInputError`` before its loop touches anything; the loops themselves then index only inside
what was checked. The checks are compiled too: they cost a few hundred nanoseconds a step, where a
Python wrapper per kernel cost 45 us (``bench/before_after.py``). The tests also run every kernel
with numba's own bounds checking (``NUMBA_BOUNDSCHECK=1``, see ``tests/conftest.py``).

Compiled code is cached next to this file (``__pycache__``) on first use, so only the first run on
a machine pays for the compilation (a few seconds).
"""
import numpy as np
from numba import njit

_compiled = njit(cache=True, nogil=True)  # nogil: the server's generations run side by side
NO_POSITIONS = np.zeros(0, dtype=np.int64)  # "no bar positions", for kernels that take arrays only


class KernelInputError(IndexError):
    """A compiled step was given an index outside its arrays (a bug in its caller), refused before
    it could touch memory that is not its own. ``args``: what was wrong, then the numbers."""


# --- The checks every kernel makes of what it is given, before its loop ------------------------------


@_compiled
def _within(values, low, high):
    """Whether every value of the 1-d array ``values`` lies in ``low .. high - 1``."""
    for v in values:
        if v < low or v >= high:
            return False
    return True


@_compiled
def _check_rows(rows, a, b, c):
    """``a``, ``b`` and ``c`` each have ``rows`` rows (a shared batch)."""
    if a.shape[0] != rows or b.shape[0] != rows or c.shape[0] != rows:
        raise KernelInputError("arrays of different batch sizes", rows, a.shape[0], b.shape[0], c.shape[0])


@_compiled
def _check_tokens(tokens, vocab):
    if not _within(tokens, 0, vocab):
        raise KernelInputError("tokens outside the vocabulary", vocab)


@_compiled
def _check_bar(bar):
    if bar < 1:
        raise KernelInputError("a bar shorter than one step", bar)


@_compiled
def _check_layer(state, weights, gates, c, inputs):
    """The shapes of a layer's step: ``inputs`` of its input is ``weights``' rows."""
    batch, n = c.shape
    _check_rows(batch, state, gates, c)
    if state.shape[1] != 2 * n or gates.shape[1] != 4 * n or weights.shape[0] != inputs or weights.shape[1] != 4 * n:
        raise KernelInputError("layer shapes that do not fit together", n)


@_compiled
def _check_read_out(hidden, weights, factors, out, vocab):
    _check_rows(hidden.shape[0], hidden, out, out)
    if weights.shape[0] != hidden.shape[1] or out.shape[1] != vocab or (
            factors.shape[0] != 0 and factors.shape[0] != vocab):
        raise KernelInputError("read-out shapes that do not fit together", vocab)


@_compiled
def _check_echo(at, origin, fixed, started, first_bar, bar, categories, onsets):
    """Every lookup of the echo at ``onsets`` (each fixed lag back, and back to the first bar) lies
    inside ``at``'s columns, which start at step ``origin``."""
    _check_bar(bar)
    _check_rows(at.shape[0], categories, onsets, onsets)
    if categories.shape[1] != fixed.shape[0] + 1:
        raise KernelInputError("an echo category for each lag and the top", categories.shape[1], fixed.shape[0])
    reach = 0
    for lag in fixed:
        if lag < 1:
            raise KernelInputError("an echo lag shorter than one step", lag)
        reach = max(reach, lag)
    if not _within(onsets, origin + reach, origin + at.shape[1]):
        raise KernelInputError("onsets outside the echo's columns", origin + reach, origin + at.shape[1])
    if started and first_bar < origin:
        raise KernelInputError("a first bar before the echo's first column", first_bar, origin)


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
    _check_layer(state, weights, gates, c, n)
    _check_rows(batch, tokens, tokens, tokens)
    if token_gates.shape[1] != 4 * n or (positions.shape[0] > 0 and position_gates.shape[1] != 4 * n):
        raise KernelInputError("input rows that do not fit the layer", n)
    _check_tokens(tokens, token_gates.shape[0])
    if positions.shape[0]:
        _check_rows(batch, positions, positions, positions)
        if not _within(positions, 0, position_gates.shape[0]):
            raise KernelInputError("bar positions outside their table", position_gates.shape[0])
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
    _check_layer(state, weights, gates, c, 2 * n)
    _check_rows(batch, below, below, below)
    if below.shape[1] != 2 * n or bias.shape[0] != 4 * n:
        raise KernelInputError("layer shapes that do not fit together", n)
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
    _check_read_out(hidden, head, factors, out, head.shape[1])
    if head_bias.shape[0] != head.shape[1]:
        raise KernelInputError("a read-out bias of the wrong size", head_bias.shape[0], head.shape[1])
    for b in range(hidden.shape[0]):
        _softmax_into(_linear(hidden[b], head, head_bias), out[b])
        _calibrate_row(out[b], factors)


@_compiled
def factored_probs(hidden, pitch_head, pitch_bias, length_head, length_bias, length_given_pitch, factors, out):
    """A factored read-out's probabilities ``p(pitch) p(length | pitch)`` (the token of pitch slot ``i``
    and length slot ``j`` is ``i * lengths + j``), each a softmax of its logits (the length's: the
    shared ones plus the pitch's own row of ``length_given_pitch``), then the calibration ``factors``."""
    pitches, lengths = length_given_pitch.shape
    _check_read_out(hidden, pitch_head, factors, out, pitches * lengths)
    if pitch_head.shape[1] != pitches or pitch_bias.shape[0] != pitches or length_head.shape[0] != hidden.shape[1] \
            or length_head.shape[1] != lengths or length_bias.shape[0] != lengths:
        raise KernelInputError("read-out shapes that do not fit together", pitches, lengths)
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
def memory_add(tokens, positions, match, length, new_tokens, new_positions, max_order, vocab):
    """Append ``new_tokens`` (and their bar positions, when ``new_positions`` is not empty) at column
    ``length``; ``match[r, j]`` becomes how many tokens the history before token ``j`` shares with
    the end of the whole history (at most ``max_order``). The tokens must be tokens of a ``vocab``-token
    vocabulary: ``memory_mix`` counts by them."""
    rows = tokens.shape[0]
    _check_rows(rows, positions, match, new_tokens)
    if new_positions.shape[0]:
        _check_rows(rows, new_positions, new_positions, new_positions)
    if length < 0 or length >= min(tokens.shape[1], positions.shape[1], match.shape[1]):
        raise KernelInputError("a column outside the memory", length, tokens.shape[1])
    _check_tokens(new_tokens, vocab)
    for r in range(tokens.shape[0]):
        token = new_tokens[r]
        for j in range(length - 1, -1, -1):  # backwards: each update reads the old value before it
            match[r, j + 1] = min(match[r, j] + 1, max_order) if tokens[r, j] == token else 0
        match[r, 0] = 0
        tokens[r, length] = token
        if new_positions.shape[0]:
            positions[r, length] = new_positions[r]


@_compiled
def memory_mix(probs, tokens, positions, match, length, at, weights, out, max_order, vocab):
    """``out[r] = (1 - w) probs[r] + w memory[r]``: the memory proposes every token that followed the
    longest context seen before (``k`` tokens; with ``at`` not empty, only contexts at the same bar
    position count), in proportion to how often; ``w = weights[k]``. ``memory_add`` kept the tokens
    inside ``vocab`` (the columns of ``probs``) and the matches up to ``max_order``."""
    rows = probs.shape[0]
    _check_rows(rows, tokens, positions, match)
    _check_rows(rows, out, out, out)
    if at.shape[0]:
        _check_rows(rows, at, at, at)
    if probs.shape[1] != vocab or out.shape[1] != vocab or weights.shape[0] <= max_order or length < 0 or \
            length > min(tokens.shape[1], positions.shape[1], match.shape[1]):
        raise KernelInputError("memory shapes that do not fit together", vocab, weights.shape[0], max_order)
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
def _echo_found(at, r, column, fixed, started, first_bar, bar, onset, found):
    """The token that started one lag before ``onset`` (at ``column``) for each fixed lag, then back to
    the first bar (none before there is one, ``started`` false, or from the first bar itself); -1: none."""
    lags = fixed.shape[0]
    for i in range(lags):
        found[i] = at[r, column - fixed[i]]
    top = (onset - first_bar) // bar * bar if started else 0
    found[lags] = at[r, column - top] if top > 0 else -1


@_compiled
def echo_mix(probs, at, origin, fixed, started, first_bar, bar, offset, categories, onsets, weights, max_total,
             vocab):
    """Mix each melody's echo proposals into ``probs`` (in place): ``(1 - sum w) p + sum w [token =
    proposal]``, ``w`` the weight of each proposing lag's category (its run, and +1 when the onset
    starts a bar), all scaled down together when they would pass ``max_total``. ``echo_add`` kept
    the tokens inside ``vocab``, the columns of ``probs``."""
    _check_echo(at, origin, fixed, started, first_bar, bar, categories, onsets)
    _check_rows(at.shape[0], probs, probs, probs)
    if probs.shape[1] != vocab:
        raise KernelInputError("probabilities for another vocabulary", probs.shape[1], vocab)
    for r in range(categories.shape[0]):
        if not _within(categories[r], 0, weights.shape[0] - 1):  # + 1 when the onset starts a bar
            raise KernelInputError("echo categories outside the weights", weights.shape[0])
    lags = categories.shape[1]
    found = np.empty(lags, np.int64)
    w = np.empty(lags)
    for r in range(probs.shape[0]):
        onset = onsets[r]
        _echo_found(at, r, onset - origin, fixed, started, first_bar, bar, onset, found)
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
def echo_add(at, origin, fixed, started, first_bar, bar, runs, categories, run_buckets, tokens, onsets, vocab):
    """Record each melody's token at its onset: a lag's run grows where the token is the one it found,
    else it starts again; its weight category (before "starts a bar") follows the run's bucket. The
    tokens must be tokens of a ``vocab``-token vocabulary (``echo_mix`` and ``plan_mix`` index by them)."""
    _check_echo(at, origin, fixed, started, first_bar, bar, categories, onsets)
    _check_rows(at.shape[0], runs, tokens, tokens)
    if runs.shape[1] != categories.shape[1] or run_buckets.shape[0] < 1:
        raise KernelInputError("echo shapes that do not fit together", runs.shape[1], categories.shape[1])
    _check_tokens(tokens, vocab)
    lags = runs.shape[1]
    found = np.empty(lags, np.int64)
    for r in range(at.shape[0]):
        column = onsets[r] - origin
        _echo_found(at, r, column, fixed, started, first_bar, bar, onsets[r], found)
        for i in range(lags):
            runs[r, i] = runs[r, i] + 1 if found[i] == tokens[r] else 0
            bucket = 0
            while bucket + 1 < run_buckets.shape[0] and run_buckets[bucket + 1] <= runs[r, i]:
                bucket += 1
            categories[r, i] = (i * run_buckets.shape[0] + bucket) * 2
        at[r, column] = tokens[r]


@_compiled
def plan_mix(probs, at, origin, onsets, lags, weight, vocab):
    """Give each melody's planned restatement (the token that started ``lags[r]`` steps before its
    onset; lag 0: none) the share ``weight`` of ``probs`` (in place). ``echo_add`` kept the tokens
    of ``at`` inside ``vocab``, the columns of ``probs``."""
    _check_rows(probs.shape[0], at, onsets, lags)
    if probs.shape[1] != vocab:
        raise KernelInputError("probabilities for another vocabulary", probs.shape[1], vocab)
    for r in range(probs.shape[0]):
        column = onsets[r] - origin - lags[r]
        if lags[r] > 0 and (column < 0 or onsets[r] - origin >= at.shape[1]):
            raise KernelInputError("a restated step outside the echo's columns", onsets[r], lags[r], origin)
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
    _check_rows(recent.shape[0], runs, looping, pitches)
    if window <= periods or longest.shape[0] != periods or run_limits.shape[0] < periods:
        raise KernelInputError("loop guard shapes that do not fit together", window, periods)
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
    _check_rows(probs.shape[0], draws, out, out)
    if vocab < 1:
        raise KernelInputError("an empty vocabulary", vocab)
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
    _check_bar(bar)
    _check_rows(current.shape[0], onsets, onsets, onsets)
    for r in range(current.shape[0]):
        if (onsets[r] - first_bar) // bar > current[r]:
            return True
    return False


@_compiled
def advance_clock(tokens, pitch_of_token, steps_of_token, now, silent, bar_offset, steps_per_bar, pitches, steps,
                  new_now, new_place, new_silent):
    """Each melody's token played at ``now``: its pitch (-1: a rest) and length, the next onset, where
    that lies in its bar, and the steps of rest in a row (0 once a note plays)."""
    rows = tokens.shape[0]
    _check_bar(steps_per_bar)
    _check_rows(rows, now, silent, pitches)
    _check_rows(rows, steps, new_now, new_place)
    _check_rows(rows, new_silent, new_silent, new_silent)
    _check_rows(pitch_of_token.shape[0], steps_of_token, steps_of_token, steps_of_token)
    _check_tokens(tokens, pitch_of_token.shape[0])
    for r in range(tokens.shape[0]):
        pitch, length = pitch_of_token[tokens[r]], steps_of_token[tokens[r]]
        pitches[r], steps[r] = pitch, length
        new_now[r] = now[r] + length
        new_place[r] = (new_now[r] - bar_offset) % steps_per_bar
        new_silent[r] = silent[r] + length if pitch < 0 else 0


@_compiled
def any_guarded(looping, silent, limit):
    """Whether some melody is looping (``looping`` >= 0) or has rested ``limit`` steps in a row."""
    _check_rows(looping.shape[0], silent, silent, silent)
    for r in range(looping.shape[0]):
        if looping[r] >= 0 or silent[r] >= limit:
            return True
    return False


@_compiled
def largest(values):
    """The largest of a non-empty int array (without numpy's reduction machinery, for one-row arrays)."""
    if values.shape[0] == 0:
        raise KernelInputError("the largest of nothing")
    top = values[0]
    for v in values:
        top = max(top, v)
    return top
