"""Is a continuation original? The longest run of notes it shares with any training song.

The checkpoint keeps a compact index of the training songs: a 32-bit hash of every window of
``ORDER`` notes' pitches (MIDI numbers in the model's key; lengths and rests are not compared, so a
tune copied with another rhythm still counts as copied), each with the number of the song it comes
from, and the song names. A run of L >= ORDER shared notes shows up as L - ORDER + 1 consecutive
windows found in the same song.

Why 8 notes and this hash: the index must not hold the training melodies. A window of 8 pitches has
2**56 possible values and its hash 2**32, so a hash does not name its window (about 16 million
windows share each one) and cannot be inverted by trying every window; 4-note windows (37**4 = 1.9
million values) could be. The hash is computed in numpy for a whole batch of windows at once, so the
sampler can check every candidate note of every melody at each step (``max_copy``).
"""
import hashlib

import numpy as np
import torch

ORDER = 8
PITCH_BITS = 7
_MASK64 = np.uint64(2**64 - 1)


def pack(windows):
    """Windows of ``ORDER`` MIDI pitches ``[..., ORDER]`` packed into one uint64 each (7 bits a pitch)."""
    windows = np.asarray(windows, dtype=np.uint64)
    shifts = np.arange(ORDER - 1, -1, -1, dtype=np.uint64) * np.uint64(PITCH_BITS)
    return np.bitwise_or.reduce(windows << shifts, axis=-1)


def window_hash(packed):
    """The index's hash of packed windows: splitmix64's mixer, top 32 bits, as int32 (many-to-one)."""
    with np.errstate(over="ignore"):
        z = np.asarray(packed, dtype=np.uint64) + np.uint64(0x9E3779B97F4A7C15)
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        z = z ^ (z >> np.uint64(31))
    return (z >> np.uint64(32)).astype(np.uint32).view(np.int32)


def window_hashes(pitches, order=ORDER):
    """The hash of every ``order``-note window of ``pitches`` (an int32 array, one per window)."""
    pitches = np.asarray(pitches, dtype=np.int64)
    if len(pitches) < order:
        return np.zeros(0, dtype=np.int32)
    windows = np.lib.stride_tricks.sliding_window_view(pitches, order)
    return window_hash(pack(windows))


def _index(pairs, names):
    ordered = np.array(sorted(pairs), dtype=np.int64).reshape(-1, 2)
    return {
        "order": ORDER,
        "unit": "pitch-window-hash",
        "hashes": torch.tensor(ordered[:, 0], dtype=torch.int32),
        "songs": torch.tensor(ordered[:, 1], dtype=torch.int32),
        "names": list(names),
    }


def build_index(songs, names):
    """The index of songs given as lists of MIDI pitches: ``{"order", "unit", "hashes", "songs", "names"}``
    (tensors and lists)."""
    pairs = {(int(h), number) for number, pitches in enumerate(songs) for h in window_hashes(pitches)}
    return _index(pairs, names)


def compatible(first, second):
    return first.get("order") == second.get("order") and first.get("unit") == second.get("unit")


def merge_indexes(first, second):
    """One index of the songs of both (e.g. a pretraining corpus and the fine-tuning songs)."""
    if not compatible(first, second):
        raise ValueError("indexes of different n-gram orders or units cannot be merged")
    offset = len(first["names"])
    pairs = set(zip(first["hashes"].tolist(), first["songs"].tolist()))
    pairs |= {(h, s + offset) for h, s in zip(second["hashes"].tolist(), second["songs"].tolist())}
    return _index(pairs, first["names"] + second["names"])


LEGACY_LOWEST_PITCH = 54  # the first indexes (4-note windows, blake2b) hold classic tokens: pitch - 54


def _legacy_hashes(pitches, order):
    tokens = [p - LEGACY_LOWEST_PITCH for p in pitches]
    out = np.zeros(max(len(tokens) - order + 1, 0), dtype=np.int32)
    for i in range(len(out)):
        digest = hashlib.blake2b(bytes(tokens[i : i + order]), digest_size=4, person=b"melody-ngrams").digest()
        out[i] = int.from_bytes(digest, "little", signed=True)
    return out


def hashes_for(index, pitches):
    """The hashes ``index`` keys ``pitches``' windows by (its own order and hash)."""
    if index.get("unit") == "pitch-window-hash":
        return window_hashes(pitches, index["order"])
    return _legacy_hashes(pitches, index["order"])


def longest_shared_run(index, pitches):
    """``(length, song name)`` of the longest run of notes (their MIDI pitches, in the model's key)
    that also occurs in one training song.

    Runs shorter than the index's window are not seen: the result is then ``(0, None)``.
    """
    order = index["order"]
    hashes, songs = index["hashes"].numpy(), index["songs"].numpy()
    best, best_song = 0, None
    running = {}  # song -> consecutive matching windows ending here
    for h in hashes_for(index, list(pitches)):
        lo, hi = np.searchsorted(hashes, h, "left"), np.searchsorted(hashes, h, "right")
        here = {int(s): running.get(int(s), 0) + 1 for s in songs[lo:hi]}
        for song, windows in here.items():
            if windows + order - 1 > best:
                best, best_song = windows + order - 1, song
        running = here
    return best, (index["names"][best_song] if best_song is not None else None)
