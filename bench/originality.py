"""Originality: the longest run of notes a continuation shares with any training song.

100 continuations of 256 notes at temperature 1 (seeds: the first 32 notes of the held-out test
songs, in turn), against the first 256 notes of the real test songs themselves.

    .venv/bin/python bench/originality.py [--checkpoint PATH] [--generations 100]
"""
import argparse
import json

import numpy as np
from common import POKEMON

from melody import load_model
from melody.data.corpus import encode_folder, split_songs
from melody.generation.originality import longest_shared_run
from melody.generation.sampling import generate


def distribution(values):
    values = np.asarray(values)
    return {"median": float(np.median(values)), "p10": float(np.percentile(values, 10)),
            "p90": float(np.percentile(values, 90)), "max": int(values.max()), "n": len(values)}


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--checkpoint")
    parser.add_argument("--generations", type=int, default=100)
    parser.add_argument("--memory", type=float, default=1.0, help="song memory and echo (default 1, as the app)")
    args = parser.parse_args()
    if not POKEMON.is_dir():
        raise SystemExit(f"{POKEMON} is not here: this benchmark needs the Pokémon files for its held-out seeds.")
    model = load_model(args.checkpoint)
    index = model.info["originality"]
    songs, _ = encode_folder(POKEMON, config=model.encoding, progress=False)
    test = split_songs(songs)["test"]
    generated, winners = [], {}
    for number in range(args.generations):
        song = test[number % len(test)]
        seed = song.melody.part(0, 32, model.encoding)
        continuation = generate(model, seed, 256, temperature=1.0, rng_seed=number, memory=args.memory)[0]
        length, name = longest_shared_run(index, list(continuation.pitches))
        generated.append(length)
        winners[name] = winners.get(name, 0) + 1
    real = [longest_shared_run(index, list(s.melody.pitches[:256]))[0] for s in test]
    print(json.dumps({
        "checkpoint": model.path.name,
        "generated continuations (256 notes, temperature 1)": distribution(generated),
        "real held-out songs (first 256 notes)": distribution(real),
        "songs most often sharing the longest run": sorted(winners.items(), key=lambda kv: -kv[1])[:5],
    }, indent=2))


if __name__ == "__main__":
    main()
