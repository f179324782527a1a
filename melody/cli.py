"""Command line: ``python -m melody generate | encode | evaluate``."""
import argparse
import json
import logging
import sys
from pathlib import Path

from . import __version__
from .checkpoint import load_model
from .corpus import encode_files, find_midi_files
from .encoding import encode_midi, melody_from_pitches
from .errors import MelodyError
from .evaluation import total_bits
from .keys import key_in_c
from .midi_io import note_span, notes_to_midi, write_midi
from .notes import format_notes, parse_notes
from .sampling import generate
from .settings import number


def output_paths(out, output_dir, count):
    """Where ``count`` generated files go: ``out`` alone, or ``<output_dir>/<out's stem>-<n>.mid``."""
    out = Path(out)
    folder = Path(output_dir) if output_dir else out.parent
    if count == 1:
        return [folder / out.name]
    return [folder / f"{out.stem}-{n}{out.suffix or '.mid'}" for n in range(1, count + 1)]


def cmd_generate(args):
    model = load_model(args.checkpoint)
    if args.seed_midi:
        seed = encode_midi(args.seed_midi, model.encoding)
        seed_pitches = list(seed.pitches[: args.seed_notes])
    else:
        seed = melody_from_pitches(parse_notes(args.seed or ""), model.encoding)
        seed_pitches = list(seed.pitches)
    count = number(args.num_outputs, "variations_cli")
    runs = generate(model, seed_pitches, args.length, temperature=args.temperature, beta=args.beta, top_k=args.top_k,
                    top_p=args.top_p, rng_seed=args.rng_seed, memory=args.memory, num_variations=count)
    key_shift = seed.key_shift if args.original_key else 0
    key = seed.key if args.original_key else key_in_c(seed.key)
    tempo = number(args.tempo or (seed.tempo_bpm if args.seed_midi else None), "tempo_bpm")
    paths = output_paths(args.out, args.output_dir, count)
    paths[0].parent.mkdir(parents=True, exist_ok=True)
    seed_end = note_span(len(seed_pitches), tempo)[0]
    print(f"seed ({len(seed_pitches)} notes, {seed.key}): {format_notes([p - key_shift for p in seed_pitches])}")
    for path, continuation in zip(paths, runs):
        midi = notes_to_midi(seed_pitches + continuation, tempo=tempo, program=args.program, key_shift=key_shift,
                             key=key)
        write_midi(midi, path, [(0.0, "seed"), (seed_end, "seed ends: continuation")])
        print(f"continuation ({len(continuation)} notes): {format_notes([p - key_shift for p in continuation])}")
        print(f"wrote {path} (checkpoint {model.path.name})")


def cmd_encode(args):
    target = Path(args.path)
    paths = find_midi_files(target) if target.is_dir() else [target]
    if target.is_dir():
        songs, skipped = encode_files(paths, cache_dir=None, progress=False)
        result = {s.name: list(s.melody.pitches) for s in songs}
        errors = dict(skipped)
    else:
        result, errors = {target.name: list(encode_midi(target).pitches)}, {}
    if args.json:
        print(json.dumps(result))
    else:
        for name, pitches in result.items():
            print(f"{name}: {len(pitches)} notes: {format_notes(pitches)}")
    for name, reason in errors.items():
        print(f"skipped {name}: {reason}", file=sys.stderr)


def cmd_evaluate(args):
    model = load_model(args.checkpoint)
    songs, skipped = encode_files(find_midi_files(args.data), config=model.encoding, progress=not args.json)
    bits, notes = total_bits(model, [s.melody.tokens for s in songs], memory=not args.no_memory)
    result = {"bits_per_note": bits / max(notes, 1), "notes": notes, "files": len(songs)}
    if args.json:
        print(json.dumps(result))
    else:
        print(f"{result['bits_per_note']:.4f} bits/note over {notes} notes in {len(songs)} files ({model.path.name})")
    for name, reason in skipped:
        print(f"skipped {name}: {reason}", file=sys.stderr)


def build_parser():
    parser = argparse.ArgumentParser(prog="melody", description="Melody continuation with an LSTM.")
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    g = sub.add_parser("generate", help="continue a seed melody and write a MIDI file (seed, then continuation)")
    seed = g.add_mutually_exclusive_group()
    seed.add_argument("--seed", help='notes as names or MIDI numbers, e.g. "C4 D4 E4" or "60 62 64"')
    seed.add_argument("--seed-midi", type=Path, help="take the seed from a MIDI file's melody")
    g.add_argument("--seed-notes", type=int, default=64, help="notes of --seed-midi to use (default 64)")
    g.add_argument("--length", type=int, default=64, help="notes to generate (default 64)")
    g.add_argument("--temperature", type=float, default=1.0)
    g.add_argument("--beta", type=float, help="the original's softmax base: sample from p**beta (it used 15)")
    g.add_argument("--top-k", type=int)
    g.add_argument("--top-p", type=float)
    g.add_argument("--memory", type=float, default=0.5,
                   help="song memory: 1 = reuse the melody's own phrases as much as fitted, 0 = the LSTM alone "
                        "(default 0.5)")
    g.add_argument("--rng-seed", type=int, help="make the result reproducible")
    g.add_argument("--tempo", type=float, help="BPM of the output (default: the seed file's, else 120)")
    g.add_argument("--program", type=int, default=0, help="General MIDI instrument 0..127 (default piano)")
    g.add_argument("--model-key", dest="original_key", action="store_false",
                   help="keep the output in C (the model's key) instead of the seed's original key")
    g.add_argument("--checkpoint", type=Path, help="default: the newest checkpoint in checkpoints/")
    g.add_argument("--out", type=Path, default=Path("out.mid"),
                   help="the MIDI file to write (default out.mid); with --num-outputs N: <stem>-1.mid ... <stem>-N.mid")
    g.add_argument("--num-outputs", type=int, default=1, metavar="N",
                   help="continuations to make, as one batch, each in its own file (default 1)")
    g.add_argument("--output-dir", type=Path, help="folder for the output files (default: --out's folder)")
    g.set_defaults(run=cmd_generate)

    e = sub.add_parser("encode", help="show the melody the encoder extracts from a MIDI file or folder")
    e.add_argument("path", help="a .mid file or a folder of them")
    e.add_argument("--json", action="store_true", help='print {"file name": [pitches...]}')
    e.set_defaults(run=cmd_encode)

    v = sub.add_parser("evaluate", help="bits per note of a checkpoint on every MIDI file in a folder")
    v.add_argument("--data", required=True, type=Path)
    v.add_argument("--checkpoint", type=Path)
    v.add_argument("--no-memory", action="store_true", help="score the LSTM alone, without the song memory")
    v.add_argument("--json", action="store_true")
    v.set_defaults(run=cmd_evaluate)
    return parser


def main(argv=None):
    args = build_parser().parse_args(argv)
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("warning: %(message)s"))
    logging.getLogger("melody").addHandler(handler)
    try:
        args.run(args)
    except MelodyError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


def run():
    """Entry point of the ``melody`` command."""
    sys.exit(main())
