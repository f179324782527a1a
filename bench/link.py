"""How long the page's links are (``melody.web.link``): the first 16, 64 and 256 bars of real songs.

The Pokémon melodies (in their own keys, as a link holds a seed) are joined end to end in 4/4, one
after another (no song is 256 bars long, and a tune repeated would compress unfairly well); N bars
from each of 20 places along them, with a few changed settings, go into a link. The figures are the
median and longest link in characters (the part after ``#``).

    .venv/bin/python bench/link.py [--data FOLDER] [--json PATH]
"""
import argparse
import shlex
import statistics
import sys

from common import POKEMON, machine, save_report

from melody.data.corpus import encode_folder
from melody.music.encoding import RHYTHM
from melody.web.link import make_link

SETTINGS = {"temperature": 0.8, "rng_seed": 1234567, "fresh": False, "checkpoint": "rhythm.pt"}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default=str(POKEMON))
    parser.add_argument("--json", help="also write the report here")
    args = parser.parse_args(argv)
    found, _ = encode_folder(args.data, config=RHYTHM, progress=False)
    report = {"command": "python bench/link.py " + " ".join(shlex.quote(a) for a in sys.argv[1:]),
              "machine": machine(), "settings": SETTINGS}
    joined, at = [], 0
    for song in found:
        melody = song.melody
        joined += [(at + o - melody.bar_start, n, p) for o, n, p in melody.original_notes()]
        at += melody.bar_count * 16
    for bars in (16, 64, 256):
        lengths, notes = [], []
        for start in range(0, at - bars * 16, max(16, (at - bars * 16) // 20 // 16 * 16)):
            part = [(o - start, n, p) for o, n, p in joined if start <= o < start + bars * 16]
            lengths.append(len(make_link(part, (4, 4), part[0][0] % 16 if part else 0, SETTINGS)))
            notes.append(len(part))
        report[f"{bars} bars"] = {"places": len(lengths), "median notes": statistics.median(notes),
                                  "median characters": statistics.median(lengths), "longest": max(lengths)}
    print(save_report(report, args.json))


if __name__ == "__main__":
    main()
