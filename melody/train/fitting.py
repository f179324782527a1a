"""After training: fit the song memory's and the bar echo's weights on the validation songs, score
the finished model on the unseen test songs against an interpolated trigram on the same encoding,
fit the form plan and the length calibration on the training songs, and write it all into the
checkpoint.

Figures (stored under ``metrics`` in the checkpoint; "token" is a note, or with rhythm a rest):
bits per token and per 16th-note step, nats per token, top-1 accuracy, for the LSTM alone, with
the song memory, and with memory and echo (the model's own prediction); and the trigram's bits.

Under a time budget (``train.py --minutes``) each of these phases gets a share of the time left and
works on the songs it reaches in it (``melody.train.budget``); ``metrics["samples"]`` and the output say
which phases used a sample.
"""
import math
from pathlib import Path

import numpy as np
import torch
from tqdm.auto import tqdm

from ..data.crops import token_sequence
from ..evaluate.evaluation import Predictions, predictions, top1_accuracy
from ..evaluate.ngram import InterpolatedTrigram
from ..generation.sampling import generate
from ..model import checkpoint as ckpt
from ..model.calibration import ROUNDS, fit_calibration
from ..model.echo import fit_echo
from ..model.form import fit_plan, melody_contents
from ..model.memory import fit_weights
from ..music.encoding import EncodingConfig
from .budget import in_time, sample_note, share_of


def sequences(songs, encoding):
    """The ``TokenSequence`` of every song, as the model reads it."""
    return [token_sequence(s.melody, encoding) for s in songs]


def fit_memory_and_echo(model, found):
    """Fit the song memory's weights, then the echo's on top of them (EM, on the ``Predictions`` of
    held-out songs), and store both in the model. Returns ``(memory weights, echo weights)``."""
    memory = fit_weights(found.lstm, found.remembered, found.orders, model.config.memory_order)
    model.memory_weights.copy_(torch.tensor(memory))
    echo = fit_echo(found.probs(memory), found.echo_categories, found.echo_hits)
    model.echo_weights.copy_(torch.tensor(echo))
    return np.asarray(memory), np.asarray(echo)


def fit_generation(model, songs, progress=False, deadline=None):
    """Fit what generation adds to the network, on real songs (the training songs): the form plan
    (``melody.model.form``) and the length calibration (``melody.model.calibration``). The model (on the CPU, with
    its ``.encoding``) keeps them; returns them as metrics, with ``samples`` (a list of notes) when
    the ``deadline`` (a quarter of the time left for the plan, the rest for the calibration) made
    one use some of the songs."""
    found, done = in_time(songs, lambda chunk: [melody_contents(s.melody, model.encoding) for s in chunk],
                          share_of(deadline, 0.25), "form plan", progress)
    plan = fit_plan([contents for chunk in found for contents in chunk])
    model.form_plan.copy_(torch.tensor(plan))
    samples = [sample_note("form plan", done, len(songs))] if done < len(songs) else []
    with tqdm(total=ROUNDS, desc="length calibration", unit="round", disable=not progress, leave=False) as bar:
        def advance(done, rounds, distance, used, available):
            bar.set_postfix_str(f"lengths {100 * distance:.1f}% away from the songs'")
            bar.update(1)
            if done == rounds and used < available:
                samples.append(sample_note("length calibration", used, available))
        calibration = fit_calibration(model, songs, generate, progress=advance, deadline=deadline)
    return {"form_plan": [float(v) for v in plan], "length_calibration": [float(v) for v in calibration],
            "samples": samples}


def refit_generation(payload, songs, out_path, label, command, progress=False):
    """``fit_generation`` for a loaded checkpoint ``payload`` on ``songs``, written with its weights and
    everything else unchanged to ``out_path`` (atomically)."""
    model = ckpt.build_model(payload, Path(out_path).name)
    model.encoding = EncodingConfig(**payload["encoding_config"])
    fitted = fit_generation(model, songs, progress)
    del fitted["samples"]  # no time budget here: every song
    payload = dict(payload, model_state={k: v.detach().cpu() for k, v in model.state_dict().items()})
    payload["metrics"] = dict(payload.get("metrics", {}), **fitted, generation_fit_data=label,
                              generation_fit_command=command)
    ckpt.atomic_save(payload, out_path)


def trigram_baseline(parts, vocab_size):
    """The interpolated trigram of the training songs' tokens, its weights fitted on validation."""
    train = [s.melody.tokens for s in parts["train"]]
    return InterpolatedTrigram(vocab_size, train).fit_weights([s.melody.tokens for s in parts["validation"]])


def part_figures(model, trigram, songs, encoding, memory, echo, device="cpu", deadline=None, progress=False,
                 desc=None):
    """The figures of one part (``"val"`` or ``"test"`` songs) of the data (see the module), and how
    many of the songs they are from: those reached by ``deadline``."""
    def score(chunk):  # top-1 hits as counts, so that chunks add up
        tokens = sum(len(seq) for seq in chunk)
        return (predictions(model, chunk, device=device), top1_accuracy(model, chunk, device=device) * tokens,
                top1_accuracy(model, chunk, memory=False, device=device) * tokens)

    found, done = in_time(sequences(songs, encoding), score, deadline, desc, progress)
    hits, hits_lstm = sum(f[1] for f in found), sum(f[2] for f in found)
    found = Predictions.concat([f[0] for f in found])
    tokens = [s.melody.tokens for s in songs[:done]]
    steps = float(found.steps.sum())
    trigram_bits = trigram.bits_per_note(tokens)
    figures = {
        "bits_per_note_lstm": found.bits_per_note(),
        "bits_per_note_memory": found.bits_per_note(memory),
        "bits_per_note": found.bits_per_note(memory, echo),
        "bits_per_step": found.bits_per_step(memory, echo),
        "nats_per_note": found.bits_per_note(memory, echo) * math.log(2),
        "top1_accuracy": hits / max(len(found.lstm), 1),
        "top1_accuracy_lstm": hits_lstm / max(len(found.lstm), 1),
        "trigram_bits_per_note": trigram_bits,
        "trigram_bits_per_step": trigram_bits * len(found.lstm) / max(steps, 1),
        "tokens": len(found.lstm),
        "steps": int(steps),
    }
    figures["ratio_to_trigram"] = figures["bits_per_note"] / trigram_bits
    figures["ratio_to_trigram_lstm"] = figures["bits_per_note_lstm"] / trigram_bits
    return figures, done


# Shares of the time left that each phase of ``finish`` may use, when it starts (what one leaves goes
# to the next): about 25% of the time for the memory and echo, 15% the validation figures, 20% the
# test figures, then 10% the form plan and 30% the length calibration (``fit_generation``).
SHARES = {"memory": 0.25, "validation": 0.2, "test": 1 / 3}


def finish(out_path, parts, history, stop_reason, epochs, device, encoding, info, progress=False, deadline=None,
           log=print):
    """Fit the memory and echo of the best model, score it, fit its form plan and length calibration
    (``fit_generation``), and rewrite its checkpoint with the figures (marked finished). With a
    ``deadline`` (``time.monotonic()``: the end of the time budget), phases that would not fit use a
    sample of the songs, and one line says which. Returns the metrics."""
    if not out_path.exists():
        raise RuntimeError(f"Training produced no usable model (validation never improved); nothing written to {out_path}.")
    payload = ckpt.read_file(out_path, ckpt.FORMAT)
    model = ckpt.build_model(payload, out_path.name).to(device)
    metrics = dict(payload["metrics"], history=history, stop_reason=stop_reason, epochs=epochs)
    validation = sequences(parts["validation"], encoding)
    found, done = in_time(validation, lambda chunk: predictions(model, chunk, device=device),
                          share_of(deadline, SHARES["memory"]), "song memory and echo", progress)
    samples = [sample_note("song memory and echo", done, len(validation))] if done < len(validation) else []
    memory, echo = fit_memory_and_echo(model, Predictions.concat(found))
    metrics["memory_weights"], metrics["echo_weights"] = [float(w) for w in memory], [float(w) for w in echo]
    trigram = trigram_baseline(parts, model.config.vocab_size)
    for part, key in (("validation", "val"), ("test", "test")):
        if parts[part]:
            figures, done = part_figures(model, trigram, parts[part], encoding, memory, echo, device,
                                         share_of(deadline, SHARES[part]), progress, f"{part} figures")
            metrics.update({f"{key}_{name}": value for name, value in figures.items()})
            if done < len(parts[part]):
                samples.append(sample_note(f"{part} figures", done, len(parts[part])))
    # "val_bits_per_note" stays the LSTM's (what early stopping compared, as in earlier versions); the
    # full model's validation figure is optimistic anyway: the weights were fitted on these songs.
    if "val_bits_per_note_lstm" in metrics:
        metrics["val_bits_per_note_full"] = metrics["val_bits_per_note"]
        metrics["val_bits_per_note"] = metrics["val_bits_per_note_lstm"]
    model = model.cpu()
    model.encoding = encoding
    metrics.update(fit_generation(model, parts["train"], progress, deadline))
    metrics["samples"] = samples + metrics["samples"]
    if metrics["samples"]:
        log("The time budget left too little for every song, so these used the first ones: "
            + "; ".join(metrics["samples"]) + ".")
    ckpt.atomic_save(ckpt.checkpoint_payload(model, encoding, metrics=metrics, **dict(info, finished=True)), out_path)
    return metrics


def done_message(metrics, stop_reason, epochs, out_path):
    """The line that ends a training run."""
    test = (f"; unseen test songs {metrics['test_bits_per_note']:.3f} bits/note with memory and echo, "
            f"{metrics['test_bits_per_note_lstm']:.3f} LSTM alone, trigram {metrics['test_trigram_bits_per_note']:.3f}"
            if "test_bits_per_note" in metrics else "")
    return (f"Done ({stop_reason}, {epochs} epochs): validation {metrics['val_bits_per_note_lstm']:.3f} bits/note "
            f"for the LSTM (trigram {metrics['val_trigram_bits_per_note']:.3f}){test}; written to {out_path}. "
            f"To use it: python -m melody generate --checkpoint {out_path}, or MELODY_CHECKPOINT={out_path} for "
            f"the command line and the playground (the shipped model stays the default until you choose).")
