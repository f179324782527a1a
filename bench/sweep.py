"""Run train.py once per named setting and print validation/test bits per note against the trigram.

    python bench/sweep.py --data ../shared/data/pokemon-midi --out-dir /tmp/sweep \
        base="" crop512="--crop-length 512 --batch-size 32" drop5="--dropout 0.5"

Each setting is a name and the extra train.py flags it adds. Results go to stdout as a
Markdown table (and to <out-dir>/results.jsonl), so they can be pasted into bench/RESULTS.md.
"""
import argparse
import json
import shlex
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from melody import load_model  # noqa: E402


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", required=True)
    parser.add_argument("--out-dir", type=Path, required=True)
    parser.add_argument("--common", default="", help="flags added to every run")
    parser.add_argument("settings", nargs="+", help='name="train.py flags"')
    args = parser.parse_args()
    args.out_dir.mkdir(parents=True, exist_ok=True)
    print("| setting | flags | epochs | minutes | val (LSTM) | test (LSTM) | test (with memory) | trigram test "
          "| ratio (LSTM) | ratio (with memory) |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for item in args.settings:
        name, _, flags = item.partition("=")
        out = args.out_dir / f"{name}.pt"
        if not out.exists():
            command = [sys.executable, str(ROOT / "train.py"), "--data", args.data, "--out", str(out), "--quiet",
                       *shlex.split(args.common), *shlex.split(flags)]
            start = time.monotonic()
            subprocess.run(command, check=True, cwd=ROOT, stdout=subprocess.DEVNULL)
            minutes = (time.monotonic() - start) / 60
        else:
            minutes = float("nan")
        m = load_model(out).info["metrics"]
        row = dict(name=name, flags=flags, epochs=m["epochs"], minutes=minutes, val=m["val_bits_per_note"],
                   test_lstm=m["test_bits_per_note_lstm"], test=m["test_bits_per_note"],
                   trigram=m["test_trigram_bits_per_note"], ratio_lstm=m["test_ratio_to_trigram_lstm"],
                   ratio=m["test_ratio_to_trigram"])
        with open(args.out_dir / "results.jsonl", "a") as handle:
            handle.write(json.dumps(row) + "\n")
        print(f"| {name} | `{flags}` | {row['epochs']} | {minutes:.1f} | {row['val']:.3f} | {row['test_lstm']:.3f} | "
              f"{row['test']:.3f} | {row['trigram']:.3f} | {row['ratio_lstm']:.3f} | {row['ratio']:.3f} |", flush=True)


if __name__ == "__main__":
    main()
