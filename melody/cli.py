"""Command line: ``python -m melody generate | encode | evaluate``."""
import argparse
import json
import logging
import sys
from pathlib import Path

from .errors import MelodyError
from .version import __version__

# The commands import what they use when they run: `melody --version` and `--help` load neither torch
# nor numba (seconds), and `encode` needs no torch.
ENCODINGS = ("classic", "rhythm")


def output_paths(out, output_dir, count):
    """Where ``count`` generated files go: ``out`` alone, or ``<output_dir>/<out's stem>-<n>.mid``."""
    out = Path(out)
    folder = Path(output_dir) if output_dir else out.parent
    if count == 1:
        return [folder / out.name]
    return [folder / f"{out.stem}-{n}{out.suffix or '.mid'}" for n in range(1, count + 1)]


def cmd_generate(args):
    from .generation.rules import SamplingRule
    from .generation.sampling import generate
    from .generation.steering import Steering, in_model_key
    from .model.checkpoint import load_model
    from .music.encoding import encode_midi, melody_from_text, notes_text
    from .serve.export import export_midi, output_shift
    from .serve.seed_sources import seed_part
    from .settings import number

    model = load_model(args.checkpoint)
    config = model.encoding
    if args.seed_midi:
        seed = seed_part(encode_midi(args.seed_midi, config), args.seed_start, args.seed_notes, config)
    else:
        seed = melody_from_text(args.seed or "", config)
    count = number(args.num_outputs, "variations_cli")
    pins, scale = in_model_key(seed, " ".join(args.pin or []), args.scale)  # given in the seed's own key
    steering = Steering(pins=pins, scale=scale, scale_strength=args.scale_strength, loop=args.loop,
                        max_copy=args.max_copy, particles=args.particles)
    runs = generate(model, seed, args.length, SamplingRule(args.temperature, args.beta, args.top_k, args.top_p),
                    steering, rng_seed=args.rng_seed, memory=args.memory, num_variations=count)
    key_shift = output_shift(seed, args.original_key)
    tempo = number(args.tempo or (seed.tempo_bpm if args.seed_midi else None), "tempo_bpm")
    paths = output_paths(args.out, args.output_dir, count)
    paths[0].parent.mkdir(parents=True, exist_ok=True)
    print(f"seed ({len(seed)} notes, {seed.key}): {notes_text(seed, key_shift)}")
    for path, continuation in zip(paths, runs):
        export_midi(path, seed, continuation, tempo, args.program, args.original_key, args.loop)
        print(f"continuation ({len(continuation)} notes): {notes_text(continuation, key_shift)}")
        print(f"wrote {path} (checkpoint {model.path.name})")


def melody_json(melody):
    """What ``encode --json`` prints of a melody: its notes in the model's key (onset and length in
    16ths, MIDI pitch), the key it was moved from and the bar grid."""
    return {"notes": [list(n) for n in melody.notes], "pitches": list(melody.pitches), "key": melody.key,
            "key_shift": melody.key_shift, "steps_per_bar": melody.steps_per_bar, "bar_offset": melody.bar_offset}


def cmd_encode(args):
    from .data.corpus import encode_files, find_midi_files
    from .music.encoding import CLASSIC, RHYTHM, encode_midi, notes_text

    config = {"classic": CLASSIC, "rhythm": RHYTHM}[args.encoding]
    target = Path(args.path)
    if target.is_dir():
        songs, skipped = encode_files(find_midi_files(target), config=config, cache_dir=None, progress=False)
        result, errors = {s.name: s.melody for s in songs}, dict(skipped)
    else:
        result, errors = {target.name: encode_midi(target, config)}, {}
    if args.json:
        print(json.dumps({name: melody_json(m) for name, m in result.items()}))
    else:
        for name, melody in result.items():
            print(f"{name}: {len(melody)} notes in {melody.key} (moved {melody.key_shift:+d} to C): "
                  f"{notes_text(melody, 0)}")
    for name, reason in errors.items():
        print(f"skipped {name}: {reason}", file=sys.stderr)


def cmd_evaluate(args):
    from .data.corpus import encode_files, find_midi_files
    from .data.crops import token_sequence
    from .evaluate.evaluation import total_bits
    from .model.checkpoint import load_model

    model = load_model(args.checkpoint)
    songs, skipped = encode_files(find_midi_files(args.data), config=model.encoding, progress=not args.json)
    sequences = [token_sequence(s.melody, model.encoding) for s in songs]
    bits, tokens = total_bits(model, sequences, memory=not args.no_memory)
    steps = int(sum(s.lengths.sum() for s in sequences))
    result = {"bits_per_note": bits / max(tokens, 1), "bits_per_step": bits / max(steps, 1), "notes": tokens,
              "steps": steps, "files": len(songs)}
    if args.json:
        print(json.dumps(result))
    else:
        what = "notes and rests" if model.encoding.rhythm else "notes"
        print(f"{result['bits_per_note']:.4f} bits per note ({result['bits_per_step']:.4f} per 16th step) over "
              f"{tokens} {what} in {len(songs)} files ({model.path.name})")
    for name, reason in skipped:
        print(f"skipped {name}: {reason}", file=sys.stderr)


def build_parser():
    from .settings import LIMITS  # light: no torch

    copy_cap = LIMITS["max_copy"]
    default = {name: limit.default for name, limit in LIMITS.items()}  # the defaults of every surface
    parser = argparse.ArgumentParser(prog="melody", description="Melody continuation with an LSTM.")
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    g = sub.add_parser("generate", help="continue a seed melody and write a MIDI file (seed, then continuation)")
    seed = g.add_mutually_exclusive_group()
    seed.add_argument("--seed", help='notes as names or MIDI numbers, with lengths and rests if you like: '
                                     '"C4 D4 E4", "60 62 64", "C4/4 D4/8 E4/8 r/4 G4/2"')
    seed.add_argument("--seed-midi", type=Path, help="take the seed from a MIDI file's melody")
    g.add_argument("--seed-start", type=int, default=default["seed_start"],
                   help=f"first note of --seed-midi to use (default {default['seed_start']})")
    g.add_argument("--seed-notes", type=int, default=default["seed_count"],
                   help=f"notes of --seed-midi to use (default {default['seed_count']})")
    g.add_argument("--length", type=int, default=default["length"], help=f"notes to generate (default {default['length']})")
    g.add_argument("--temperature", type=float, default=default["temperature"])
    g.add_argument("--beta", type=float, help="the original's softmax base: sample from p**beta (it used 15)")
    g.add_argument("--top-k", type=int)
    g.add_argument("--top-p", type=float)
    g.add_argument("--memory", type=float, default=default["memory"],
                   help="song memory, bar echo and form plan: 1 = the melody's own phrases come back as the "
                        "model was fitted to (default), 0 = the LSTM alone")
    g.add_argument("--rng-seed", type=int, help="make the result reproducible")
    g.add_argument("--tempo", type=float, help=f"BPM of the output (default: the seed file's, else "
                                                f"{default['tempo_bpm']:g})")
    g.add_argument("--program", type=int, default=default["program"], help="General MIDI instrument 0..127 (default piano)")
    g.add_argument("--model-key", dest="original_key", action="store_false",
                   help="keep the output in C (the model's key) instead of the seed's original key")
    g.add_argument("--checkpoint", type=Path, help="default: the shipped rhythm.pt, or the one $MELODY_CHECKPOINT names")
    g.add_argument("--out", type=Path, default=Path("out.mid"),
                   help="the MIDI file to write (default out.mid); with --num-outputs N: <stem>-1.mid ... <stem>-N.mid")
    g.add_argument("--num-outputs", type=int, default=default["variations_cli"], metavar="N",
                   help="continuations to make, as one batch, each in its own file (default 1)")
    steer = g.add_argument_group("steering (pitches in the seed's own key)")
    steer.add_argument("--pin", action="append", metavar="N:NOTE",
                       help="pin note N of the continuation (0 = the first new note): 15:C5, 31:G4/4 (a length), "
                            "40:E4@96 (starting 96 sixteenths after the seed); repeat for more")
    steer.add_argument("--scale", help="keep to a scale: 'C major', 'A minor', 'D dorian', 'C major pentatonic', "
                                       "'A blues', 'key' (the seed's key) or 'seed' (the seed's own notes)")
    steer.add_argument("--scale-strength", type=float, default=default["scale_strength"],
                       help="1 = strictly (default); lower = a preference (notes outside keep 1 - strength)")
    steer.add_argument("--loop", action="store_true",
                       help="end so that the seed follows without a seam; the MIDI file plays the loop twice")
    steer.add_argument("--max-copy", type=int, metavar="K",
                       help=f"at most K notes in a row ({copy_cap.low} to {copy_cap.high:,}) the same as in a "
                            "training song")
    steer.add_argument("--particles", type=int, help="candidates the constrained sampler keeps (default 64)")
    g.add_argument("--output-dir", type=Path, help="folder for the output files (default: --out's folder)")
    g.set_defaults(run=cmd_generate)

    e = sub.add_parser("encode", help="show the melody the encoder extracts from a MIDI file or folder")
    e.add_argument("path", help="a .mid file or a folder of them")
    e.add_argument("--json", action="store_true",
                   help='print {"file name": {"notes": [[onset, length, pitch], ...], "pitches": [...], "key": ...}}')
    e.add_argument("--encoding", choices=ENCODINGS, default="rhythm",
                   help="rhythm (default): the melody voice with lengths and rests; classic: the write-up's")
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
    finally:
        logging.getLogger("melody").removeHandler(handler)
    return 0


def run():
    """Entry point of the ``melody`` command."""
    sys.exit(main())
