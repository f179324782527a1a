"""Train (or refresh) the melody model on a folder of MIDI files: the command line of ``train.py``
and of the ``melody-train`` command (the loop itself is ``melody.train.training``).

    python train.py                      # data/midi/ if it has MIDI files, else music21's folk songs
    python train.py --data ~/my-midis --minutes 20
    python train.py --resume             # continue the latest interrupted run, wherever it was written
    python train.py --fit-sampling checkpoints/rhythm.pt --data ~/my-midis   # refit form plan, lengths
    torchrun --nproc_per_node=2 train.py --data ~/my-midis   # data-parallel

Every run writes a new checkpoint in checkpoints/ (the previous ones are kept); the shipped rhythm.pt
stays what `python -m melody generate` and the playground use until you choose another
(``--checkpoint``, or ``$MELODY_CHECKPOINT``).
"""
import argparse
import datetime
import shlex
import signal
import sys
from contextlib import ExitStack
from dataclasses import replace
from pathlib import Path

from ..data.corpus import encode_folder, encode_folk_corpus, find_midi_files, split_songs
from ..data.stopping import STOP_SIGNALS, signal_name
from ..errors import EncodingInterrupted, MelodyError
from ..model import checkpoint as ckpt
from ..model.network import ModelConfig
from ..music.encoding import CLASSIC, RHYTHM, EncodingConfig
from ..version import __version__
from .distributed import exit_process, launch
from .fitting import refit_generation
from .runs import finished, latest_interrupted, output_lock
from .training import TrainConfig, state_path_for, train

DEFAULT_DATA = Path("data/midi")
ENCODINGS = {"rhythm": RHYTHM, "classic": CLASSIC}
FOLK = "folk"
MODEL_FLAGS = {"embedding_size": (int, "size of a token's embedding"), "hidden_size": (int, "units of each LSTM layer"),
               "num_layers": (int, "LSTM layers"), "dropout": (float, "dropout between the layers")}
TRAIN_FLAGS = {
    "epochs": (int, "most epochs to train"),
    "minutes": (float, "time budget of this invocation (a resumed run gets it anew), in minutes: training, "
                       "validation and the fitting at the end all fit in it, on samples of the songs when the "
                       "budget is short (default: none)"),
    "max_steps": (int, "step budget of this invocation: stop after this many training steps, then validate and "
                       "finish as usual; for a quick check of a command (default: none)"),
    "batch_size": (int, "crops of songs in a training step"),
    "crop_length": (int, "tokens (notes and rests) in a crop"),
    "learning_rate": (float, "AdamW's learning rate"),
    "weight_decay": (float, "AdamW's weight decay"),
    "patience": (int, "epochs without a better validation score before stopping"),
    "seed": (int, "random seed"),
    "notes_per_epoch": (int, "tokens an epoch trains on (default: as many as the training songs hold)"),
}
DESCRIPTION = """Train (or refresh) the melody model on MIDI files. Every run writes a new checkpoint
(checkpoints/<data>-<date>-<time>.pt) and keeps the earlier ones; the shipped rhythm.pt stays the
default of the playground and the command line until you choose yours (melody generate --checkpoint,
or the environment variable MELODY_CHECKPOINT).

examples:
  %(prog)s                       data/midi/ if it has MIDI files, else music21's folk songs
  %(prog)s --data ~/my-midis --minutes 20
  %(prog)s --resume              continue the latest interrupted run, wherever it was written
  %(prog)s --fit-sampling checkpoints/rhythm.pt --data ~/my-midis   refit the form plan and lengths
  torchrun --nproc_per_node=2 train.py --data ~/my-midis   data-parallel
"""


def flag_help(what, default):
    """A flag's help: what it sets and its default, unless ``what`` names its own."""
    return what if "(default" in what else f"{what} (default: {default:g})" if isinstance(default, float) \
        else f"{what} (default: {default})"


def parse_args(argv):
    # prog: how it was started (train.py, melody-train), as argparse takes it from sys.argv[0]
    p = argparse.ArgumentParser(description=DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--version", action="version", version=f"melody-playground {__version__}")
    p.add_argument("--data", action="append",
                   help=f"folder of .mid/.midi files, or '{FOLK}' for music21's folk songs; give it several times to "
                        f"train on several (default: {DEFAULT_DATA}/ when it has MIDI files, else '{FOLK}')")
    p.add_argument("--encoding", choices=sorted(ENCODINGS),
                   help="rhythm (default): the melody voice with note lengths and rests; classic: the 2020 "
                        "write-up's highest note of every chord, every note the same length")
    p.add_argument("--out", type=Path, help="checkpoint to write (default: checkpoints/<data>-<date-time>.pt)")
    p.add_argument("--resume", nargs="?", const="latest", metavar="CHECKPOINT",
                   help="continue an interrupted run: its checkpoint or state file, or nothing for the latest "
                        "interrupted run (wherever it was written); --minutes is a budget for this invocation")
    p.add_argument("--init-from", type=Path, metavar="CHECKPOINT", help="start from these weights (fine-tuning)")
    p.add_argument("--fit-sampling", type=Path, metavar="CHECKPOINT",
                   help="no training: fit what generation adds to this checkpoint's network (its form plan: which "
                        "earlier bars melodies restate; its length calibration) on the training songs of --data, "
                        "and write it to --out (default: <name>-fitted.pt beside it)")
    p.add_argument("--device", default="auto", help="cpu, cuda, cuda:N or auto (CUDA when present)")
    p.add_argument("--workers", type=int, help="processes for encoding the training files (default: all cores)")
    p.add_argument("--no-cache", action="store_true", help="re-encode every file instead of using the cache")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    model, training = model_config_for(RHYTHM), TrainConfig()
    g = p.add_argument_group("model size (of a new model: --init-from and --resume keep theirs)")
    for name, (kind, what) in MODEL_FLAGS.items():
        g.add_argument("--" + name.replace("_", "-"), type=kind, help=flag_help(what, getattr(model, name)))
    g = p.add_argument_group("training")
    for name, (kind, what) in TRAIN_FLAGS.items():
        flag = "--lr" if name == "learning_rate" else "--" + name.replace("_", "-")
        g.add_argument(flag, dest=name, type=kind, help=flag_help(what, getattr(training, name)))
    return p.parse_args(argv)


def given(args, names):
    return {n: getattr(args, n) for n in names if getattr(args, n) is not None}


def resume_state_file(resume):
    """The state file ``--resume`` means: the latest interrupted run's, or the one of a checkpoint path."""
    if resume == "latest":
        found = latest_interrupted(ckpt.CHECKPOINT_DIR / ".resume")
        if found is None:
            raise MelodyError("No interrupted training run to resume. Start one with `python train.py`, or name "
                              "its checkpoint: `python train.py --resume CHECKPOINT`.")
        return found
    path = Path(resume)
    state_file = path if path.parent.name == ".resume" else state_path_for(path)
    if not state_file.is_file():
        raise MelodyError(f"'{path}' has no resumable training state (looked for {state_file}), so it cannot be "
                          f"resumed. To train further from it, start a new run from its weights: "
                          f"python train.py --init-from {path}")
    return state_file


def read_resume_state(state_file):
    """The ``TrainingState`` of an interrupted run, its checkpoint and data paths made absolute (it may
    be resumed from another folder); a finished run is refused (resuming would rewrite its checkpoint)."""
    state = ckpt.read_training_state(state_file)
    checkpoint, sources = state.checkpoint_path(), state.source_paths(FOLK)
    if finished(state):
        raise MelodyError(f"The run that wrote {checkpoint} has finished, and a finished checkpoint is never "
                          f"overwritten. To train it further, start a new run from its weights: "
                          f"python train.py --init-from {checkpoint} " + " ".join(f"--data {s}" for s in sources))
    return replace(state, checkpoint=str(checkpoint), sources=sources, cwd=".")


def budget_note(train_config, args, resuming):
    """One line on the time budget, when there is one: whose it is, and that it counts from now."""
    if not train_config.minutes:
        return None
    if not resuming:
        return f"Time budget: {train_config.minutes:g} minutes."
    origin = "from --minutes" if args.minutes is not None else "the original run's --minutes, applied anew"
    return f"Time budget: {train_config.minutes:g} minutes for this invocation ({origin})."


def data_sources(data):
    """The ``--data`` sources, or the default: ``data/midi/`` when it has MIDI files, else the folk songs."""
    return list(data) if data else [str(DEFAULT_DATA) if DEFAULT_DATA.is_dir() and find_midi_files(DEFAULT_DATA)
                                    else FOLK]


def default_out(sources):
    """A new checkpoint's path: ``checkpoints/<first source's name>-<date>-<time>.pt``."""
    stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    return ckpt.CHECKPOINT_DIR / f"{Path(str(sources[0])).name or 'model'}-{stamp}.pt"


def claim_output(out, resuming, held):
    """Before any data is read: ``out``'s folder must be writable, no other run may be writing ``out``
    (this run holds its lock until ``held``, an ``ExitStack``, closes), and an existing checkpoint is
    kept unless this run is resuming it. Raises ``MelodyError`` with a one-line reason."""
    ckpt.check_writable(out.parent)
    held.enter_context(output_lock(out))
    if out.exists() and not resuming:
        raise MelodyError(f"{out} already exists and is kept: choose another --out, or add --resume to continue it.")


def claimed_everywhere(context, out, resuming, held):
    """:func:`claim_output` in the main process; its verdict on every process (under DDP the others
    would otherwise wait for the main one for ever)."""
    problem = None
    if context.is_main:
        try:
            claim_output(out, resuming, held)
        except MelodyError as exc:
            problem = str(exc)
    problem = context.broadcast(problem)
    if problem:
        raise MelodyError(problem)


def load_songs(sources, encoding, args, context):
    """Encode the training data, one source or several (main process first, so the others read the
    cache); returns ``(sources, songs, skipped, label)``."""
    kwargs = dict(config=encoding, cache_dir=None if args.no_cache else "default", workers=args.workers,
                  progress=not args.quiet and context.is_main)
    songs, skipped = [], []
    for source in sources:
        for turn in (0, 1):
            if context.is_main == (turn == 0):
                found, missed = encode_folk_corpus(**kwargs) if source == FOLK else encode_folder(source, **kwargs)
            context.barrier()
        songs, skipped = songs + found, skipped + missed
    label = " and ".join("music21's bundled folk songs (Essen, O'Neill's, Ryan's Mammoth)" if source == FOLK
                         else f"'{source}'" for source in sources)
    return sources, songs, skipped, label


def model_config_for(encoding, **sizes):
    """The ``ModelConfig`` of a new model for ``encoding``, with the sizes given on the command line."""
    return ModelConfig.for_encoding(encoding, **sizes)


def main(argv=None):
    args = parse_args(sys.argv[1:] if argv is None else argv)
    command = "python train.py " + " ".join(shlex.quote(a) for a in (sys.argv[1:] if argv is None else argv))
    resume_state = init_state = init_index = None
    train_config, encoding = TrainConfig(), ENCODINGS[args.encoding or "rhythm"]
    model_config = model_config_for(encoding)
    data, out = args.data, args.out
    if args.fit_sampling:
        return fit_sampling(args, command)
    if args.resume:
        state_file = resume_state_file(args.resume)
        resume_state = read_resume_state(state_file)
        model_config = ModelConfig(**resume_state.model_config)
        encoding = EncodingConfig(**resume_state.encoding_config)
        train_config = TrainConfig.from_dict(resume_state.train_config)
        data = data or resume_state.sources
        out = out or Path(resume_state.checkpoint)
        command = (resume_state.command or command) + "  # resumed with: " + command
    elif args.init_from:
        init = ckpt.read_file(args.init_from, ckpt.FORMAT)
        encoding = EncodingConfig(**init["encoding_config"])
        # the network as it was; the song memory bar-aligned for rhythm (it is fitted anew at the end)
        model_config = replace(ModelConfig(**init["model_config"]), memory_aligned=encoding.rhythm)
        init_state, init_index = init["model_state"], init.get("originality")
    if (args.resume or args.init_from) and args.encoding and ENCODINGS[args.encoding] != encoding:
        raise MelodyError(f"--encoding {args.encoding} differs from the encoding of the run or checkpoint it starts "
                          f"from ({encoding.kind}): leave it out.")
    model_config = replace(model_config, **given(args, MODEL_FLAGS)) if not (args.resume or args.init_from) else model_config
    train_config = replace(train_config, **given(args, TRAIN_FLAGS))

    sources = data_sources(data)
    with launch(args.device) as context, ExitStack() as held:
        out = Path(context.broadcast(str(out or default_out(sources))))
        resuming_out = resume_state is not None and out == Path(resume_state.checkpoint)
        claimed_everywhere(context, out, resuming_out, held)
        data, songs, skipped, label = load_songs(sources, encoding, args, context)
        if context.is_main:
            print(f"Training data: {label}: {len(songs)} songs, {sum(len(s.melody) for s in songs)} notes.")
            if skipped:
                names = ", ".join(n for n, _ in skipped[:10]) + (" ..." if len(skipped) > 10 else "")
                print(f"Skipped {len(skipped)} unreadable or empty files: {names}")
        if not songs:
            raise MelodyError(f"No usable melodies in {label}: every file was skipped.")
        parts = split_songs(songs)
        if context.is_main:
            print("Split by file: " + ", ".join(f"{k} {len(v)} songs" for k, v in parts.items())
                  + f". Model: {model_config}. Device: {context.device}, {context.world_size} process(es).")
            if resume_state is not None:
                print(f"Resuming the interrupted run of {out} (state: {state_path_for(out)}).")
            note = budget_note(train_config, args, resume_state is not None)
            if note:
                print(note)
        train(parts, out, model_config, train_config, encoding, context, source=data, skipped=skipped,
              command=command, resume_state=resume_state, init_state=init_state, init_index=init_index,
              progress=not args.quiet)


def fit_sampling(args, command):
    """``--fit-sampling``: a checkpoint's form plan and length calibration fitted anew on the training
    songs of ``--data`` (``melody.train.fitting.fit_generation``)."""
    if args.resume or args.init_from:
        raise MelodyError("--fit-sampling changes no weights: use it without --resume and --init-from.")
    source = args.fit_sampling
    out = args.out or source.with_name(f"{source.stem}-fitted.pt")
    payload = ckpt.read_file(source, ckpt.FORMAT)
    encoding = EncodingConfig(**payload["encoding_config"])
    with launch("cpu") as context, ExitStack() as held:
        if out.exists() and out.resolve() != source.resolve():
            raise MelodyError(f"{out} already exists and is kept: choose another --out.")
        claim_output(out, True, held)
        data, songs, _, label = load_songs(data_sources(args.data), encoding, args, context)
        train_songs = split_songs(songs)["train"]
        if not train_songs:
            raise MelodyError(f"No usable melodies in {label}: every file was skipped.")
        refit_generation(payload, train_songs, out, f"{label} ({len(train_songs)} training songs)", command,
                         progress=not args.quiet)
    print(f"Form plan and length calibration fitted on {len(train_songs)} training songs of {label}; "
          f"written to {out}")


class Stopped(Exception):
    """Ctrl-C or SIGTERM outside the loops that stop politely (encoding, training): while the model,
    its baseline and its index are being set up, or while the final figures are computed."""

    def __init__(self, signum):
        super().__init__(signum)
        self.signum = signum


def _stop(signum, _frame):
    raise Stopped(signum)


def cli(argv=None):
    """``main`` with errors printed as one line instead of a traceback; returns the exit status."""
    previous = {}
    for sig in STOP_SIGNALS:
        try:
            previous[sig] = signal.signal(sig, _stop)
        except ValueError:  # not the main thread
            pass
    try:
        main(argv)
    except EncodingInterrupted as exc:  # not a mistake: say what was kept, exit as the signal would
        print(exc, file=sys.stderr)
        return 128 + exc.signum
    except Stopped as exc:
        print(f"Stopped by {signal_name(exc.signum)} outside the training loop (setting up, or scoring at the end): "
              "checkpoints already written are kept and encoded files stay cached; no new training state was "
              "saved.", file=sys.stderr)
        return 128 + exc.signum
    except MelodyError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return 0


def run():
    """Entry point of ``train.py`` and the ``melody-train`` command."""
    exit_process(cli())
