"""Is a continuation original? The longest run of notes it shares with any training song.

The checkpoint keeps a compact index of the training songs: hashed n-grams (``ORDER`` notes),
each with the number of the song it comes from, and the song names, never the melodies. A run
of L >= ORDER shared notes shows up as L - ORDER + 1 consecutive n-grams found in the same song.
"""
import hashlib

import numpy as np
import torch

ORDER = 4


def _hashes(tokens, order=ORDER):
    """32-bit hashes of every ``order``-note window of ``tokens`` (blake2b). With a few hundred
    thousand windows indexed, a window matches by chance about once in ten thousand lookups."""
    out = np.zeros(max(len(tokens) - order + 1, 0), dtype=np.int32)
    for i in range(len(out)):
        digest = hashlib.blake2b(bytes(tokens[i : i + order]), digest_size=4, person=b"melody-ngrams").digest()
        out[i] = int.from_bytes(digest, "little", signed=True)
    return out


def _index(pairs, order, names):
    ordered = sorted(pairs)
    return {
        "order": order,
        "hashes": torch.tensor([h for h, _ in ordered], dtype=torch.int32),
        "songs": torch.tensor([s for _, s in ordered], dtype=torch.int32),
        "names": list(names),
    }


def build_index(songs, names, order=ORDER):
    """The index of a list of token sequences: ``{"order", "hashes", "songs", "names"}`` (tensors and lists)."""
    pairs = {(int(h), number) for number, tokens in enumerate(songs) for h in _hashes(list(tokens), order)}
    return _index(pairs, order, names)


def merge_indexes(first, second):
    """One index of the songs of both (e.g. a pretraining corpus and the fine-tuning songs)."""
    if first["order"] != second["order"]:
        raise ValueError("indexes of different n-gram orders cannot be merged")
    offset = len(first["names"])
    pairs = set(zip(first["hashes"].tolist(), first["songs"].tolist()))
    pairs |= {(h, s + offset) for h, s in zip(second["hashes"].tolist(), second["songs"].tolist())}
    return _index(pairs, first["order"], first["names"] + second["names"])


def longest_shared_run(index, tokens):
    """``(length, song name)`` of the longest run of ``tokens`` that also occurs in one training song.

    Runs shorter than the index's n-gram order are not seen: the result is then ``(0, None)``.
    """
    order = index["order"]
    hashes, songs = index["hashes"].numpy(), index["songs"].numpy()
    best, best_song = 0, None
    running = {}  # song -> consecutive matching windows ending here
    for h in _hashes(list(tokens), order):
        lo, hi = np.searchsorted(hashes, h, "left"), np.searchsorted(hashes, h, "right")
        here = {int(s): running.get(int(s), 0) + 1 for s in songs[lo:hi]}
        for song, windows in here.items():
            if windows + order - 1 > best:
                best, best_song = windows + order - 1, song
        running = here
    return best, (index["names"][best_song] if best_song is not None else None)
