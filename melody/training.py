"""The training loop: cyclic random crops, Adam, validation in bits per note, early stopping,
atomic checkpoints and resumable state. ``train.py`` is a thin command-line shell over ``train``."""
import math
import os
import time
from dataclasses import asdict, dataclass, fields
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from tqdm.auto import tqdm

from . import checkpoint as ckpt
from .data import CropSampler
from .evaluation import bits_per_note, predictions
from .memory import fit_weights
from .model import MelodyLSTM, ModelConfig
from .ngram import InterpolatedTrigram
from .originality import build_index, merge_indexes
from .runs import FINISHED, INTERRUPTED, RUNNING, record_run
from .stopping import StopRequest


@dataclass
class TrainConfig:
    """Settings of one training run; saved in the checkpoint and the resumable state."""

    epochs: int = 200
    minutes: float = 0.0  # time budget of each invocation (a resumed run gets it anew); 0 = none
    batch_size: int = 64
    crop_length: int = 128
    learning_rate: float = 2e-3
    weight_decay: float = 0.0
    patience: int = 10  # epochs without a better validation score before stopping
    grad_clip: float = 1.0
    notes_per_epoch: int = 0  # 0 = the number of training notes
    seed: int = 0

    @classmethod
    def from_dict(cls, values):
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in values.items() if k in known})


def state_path_for(out_path):
    """Where the resumable training state of a checkpoint lives: ``<folder>/.resume/<name>``."""
    out_path = Path(out_path)
    return out_path.parent / ".resume" / out_path.name


def train_step(net, optimizer, crops, grad_clip):
    """One optimiser step on a batch of crops ``[batch, length + 1]`` (next-note prediction, gradients
    clipped to ``grad_clip``); returns the loss in nats per note."""
    logits, _ = net(crops[:, :-1])
    loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), crops[:, 1:].reshape(-1))
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    torch.nn.utils.clip_grad_norm_(net.parameters(), grad_clip)
    optimizer.step()
    return loss.item()


def training_index(songs, earlier=None):
    """The originality index of the training songs, joined with the index of the checkpoint the
    model started from (its pretraining songs), if any."""
    index = build_index([s.melody.tokens for s in songs], [s.name for s in songs])
    return merge_indexes(earlier, index) if earlier else index


def data_summary(parts, source, skipped):
    """What the model was trained on, for the checkpoint (names and counts, not the notes)."""
    summary = {"source": str(source), "skipped_files": len(skipped), "skipped": [list(s) for s in skipped[:50]]}
    for name, songs in parts.items():
        summary[f"{name}_files"] = len(songs)
        summary[f"{name}_notes"] = int(sum(len(s.melody) for s in songs))
    summary["files"] = sum(summary[f"{n}_files"] for n in parts)
    summary["notes"] = sum(summary[f"{n}_notes"] for n in parts)
    summary["validation_names"] = [s.name for s in parts["validation"]]
    summary["test_names"] = [s.name for s in parts["test"]]
    return summary


class TrainingRun:
    """What one call of :func:`train` works on: the model, its optimiser, scheduler and crop sampler,
    and the run's progress (epoch, best validation score, history), restored from a resumable state."""

    def __init__(self, parts, model_config, cfg, context, init_state=None, resume_state=None):
        self.cfg, self.context = cfg, context
        train_tokens = [s.melody.tokens for s in parts["train"]]
        torch.manual_seed(cfg.seed)
        model = MelodyLSTM(model_config)
        counts = np.bincount(np.concatenate(train_tokens), minlength=model_config.vocab_size)
        model.set_start_distribution(counts)
        if init_state is not None:
            model.load_state_dict(dict(init_state, memory_weights=model.memory_weights))
            model.set_start_distribution(counts)  # this data's note frequencies; the memory is refitted at the end
        self.model = model.to(context.device)
        self.optimizer = torch.optim.AdamW(model.parameters(), lr=cfg.learning_rate, weight_decay=cfg.weight_decay)
        self.scheduler = torch.optim.lr_scheduler.ReduceLROnPlateau(self.optimizer, factor=0.5,
                                                                    patience=max(1, cfg.patience // 3))
        self.generator = torch.Generator().manual_seed(cfg.seed * 1000 + context.rank)
        self.sampler = CropSampler(train_tokens, cfg.crop_length, self.generator)
        self.batch = max(1, cfg.batch_size // context.world_size)
        notes = cfg.notes_per_epoch or self.sampler.total_notes
        self.steps_per_epoch = max(1, math.ceil(notes / (cfg.batch_size * cfg.crop_length)))
        self.epoch, self.best_val, self.bad_epochs, self.history, self.elapsed_before = 0, float("inf"), 0, [], 0.0
        if resume_state is not None:
            self._restore(resume_state)
        self.net = model
        if context.enabled:
            device = context.device
            self.net = torch.nn.parallel.DistributedDataParallel(model, device_ids=[device] if device.type == "cuda" else None)

    def _restore(self, state):
        self.model.load_state_dict(state["model_state"])
        self.optimizer.load_state_dict(state["optimizer_state"])
        self.scheduler.load_state_dict(state["scheduler_state"])
        self.generator.set_state(state["generator_state"])
        self.epoch, self.best_val = state["epoch"], state["best_val"]
        self.bad_epochs, self.history = state["bad_epochs"], list(state["history"])
        self.elapsed_before = state.get("elapsed_seconds", 0.0)

    def run_epoch(self, stop, clock):
        """Train on one epoch's crops. Returns ``(train bits per note, complete, stop requested, out of
        time)``; the epoch ends early on a stop request or when the time budget is spent."""
        self.net.train()
        nats, seen, stopped, out_of_time = 0.0, 0, False, False
        while seen < self.steps_per_epoch and not (stopped or out_of_time):
            crops = self.sampler.sample(self.batch).to(self.context.device)
            nats += train_step(self.net, self.optimizer, crops, self.cfg.grad_clip)
            seen += 1
            clock.step()
            # Every process must take the same decision, or DDP's next all-reduce waits forever.
            stopped, out_of_time = self.context.any_each([stop.requested, clock.out_of_time()])
        return nats / seen / math.log(2), seen == self.steps_per_epoch, stopped, out_of_time

    def end_epoch(self, train_bits, val_bits):
        """Record an epoch's scores; returns whether the validation score improved."""
        self.epoch += 1
        self.scheduler.step(val_bits)
        improved = val_bits < self.best_val - 1e-4
        self.best_val, self.bad_epochs = (val_bits, 0) if improved else (self.best_val, self.bad_epochs + 1)
        self.history.append({"epoch": self.epoch, "train_bits_per_note": round(train_bits, 4),
                             "val_bits_per_note": round(val_bits, 4), "lr": self.optimizer.param_groups[0]["lr"]})
        return improved

    def state(self, elapsed_seconds):
        """The resumable part of the state file: weights, optimiser, scheduler, random generator, progress."""
        return {
            "model_state": {k: v.detach().cpu() for k, v in self.model.state_dict().items()},
            "optimizer_state": self.optimizer.state_dict(),
            "scheduler_state": self.scheduler.state_dict(),
            "generator_state": self.generator.get_state(),
            "epoch": self.epoch,
            "best_val": self.best_val,
            "bad_epochs": self.bad_epochs,
            "history": self.history,
            "elapsed_seconds": self.elapsed_before + elapsed_seconds,
        }


class Clock:
    """This invocation's time against its budget (``minutes``; 0 = none), shown as the progress bar.

    With a budget the bar counts the budget's seconds, so its total and time left are true (the run
    stops when the budget is spent, checked after every step); without one it counts the steps of
    the epochs still to run."""

    def __init__(self, minutes, steps_per_epoch, epochs, first_epoch, enabled):
        self.budget_seconds = minutes * 60
        self.start = time.monotonic()
        if self.budget_seconds:
            self.bar = tqdm(total=self.budget_seconds, desc=f"time budget {tqdm.format_interval(self.budget_seconds)}",
                            disable=not enabled, dynamic_ncols=True,
                            bar_format="{desc}: {percentage:3.0f}%|{bar}| [{elapsed}<{remaining}{postfix}]")
        else:
            self.bar = tqdm(total=epochs * steps_per_epoch, initial=first_epoch * steps_per_epoch, unit="step",
                            disable=not enabled, dynamic_ncols=True)

    @property
    def elapsed(self):
        """Seconds since this invocation's training began."""
        return time.monotonic() - self.start

    def step(self):
        """After a training step."""
        self.bar.update(1) if not self.budget_seconds else self.refresh()

    def refresh(self):
        """Bring a budget bar up to the time (after a validation, say)."""
        if self.budget_seconds:
            self.bar.update(min(self.elapsed, self.budget_seconds) - self.bar.n)

    def out_of_time(self):
        return bool(self.budget_seconds) and self.elapsed >= self.budget_seconds

    def close(self):
        self.bar.close()


def train(
    parts,
    out_path,
    model_config=ModelConfig(),
    train_config=TrainConfig(),
    encoding=None,
    context=None,
    source="",
    skipped=(),
    command="",
    resume_state=None,
    init_state=None,
    init_index=None,
    log=print,
    progress=True,
):
    """Train a model on ``parts`` (``{"train", "validation", "test"}`` lists of ``corpus.Song``).

    The best model by validation bits per note is written atomically to ``out_path`` whenever
    it improves; the resumable state (weights, optimiser, RNG, history) goes to
    ``state_path_for(out_path)`` after every epoch, on a stop request and at the end (marked
    finished). ``init_state`` (weights) and ``init_index`` (originality index) come from a
    checkpoint to fine-tune. ``train_config.minutes`` is a budget for this call, resumed or not.
    Every run is noted in the record of runs (``melody.runs``) that ``--resume`` searches.

    Returns
    -------
    dict
        The final metrics (validation/test bits per note, trigram baseline, epochs, stop reason).
    """
    from .distributed import Context
    from .encoding import EncodingConfig

    context = context or Context()
    encoding = encoding or EncodingConfig()
    cfg = train_config
    out_path, state_path = Path(out_path), state_path_for(out_path)
    run = TrainingRun(parts, model_config, cfg, context, init_state, resume_state)
    if resume_state is not None:
        log(f"Resuming at epoch {run.epoch} (best validation so far {run.best_val:.3f} bits/note).")
    val_tokens = [s.melody.tokens for s in parts["validation"]]
    trigram = InterpolatedTrigram(model_config.vocab_size, [s.melody.tokens for s in parts["train"]]).fit_weights(val_tokens)
    trigram_val = trigram.bits_per_note(val_tokens)
    info = dict(
        data=data_summary(parts, source, list(skipped)),
        train_config=asdict(cfg),
        command=command,
        processes=context.world_size,
        finished=False,
        originality=(resume_state or {}).get("originality") or training_index(parts["train"], init_index),
    )
    # cwd: a resumed run may start elsewhere (--resume finds it wherever it is): relative paths are from here.
    settings = dict(model_config=model_config.to_dict(), encoding_config=encoding.to_dict(), train_config=asdict(cfg),
                    checkpoint=str(out_path), source=str(source), command=command, originality=info["originality"],
                    cwd=os.getcwd())

    clock = Clock(cfg.minutes, run.steps_per_epoch, cfg.epochs, run.epoch, progress and context.is_main)

    def save_state(reason):
        state = {"format": ckpt.STATE_FORMAT, "format_version": ckpt.FORMAT_VERSION, **run.state(clock.elapsed),
                 **settings, "saved_because": reason, "finished": reason == "finished"}
        ckpt.atomic_save(state, state_path)

    def save_best(epoch, val_bits):
        metrics = {"best_epoch": epoch, "val_bits_per_note": val_bits, "trigram_val_bits_per_note": trigram_val,
                   "history": run.history}
        ckpt.atomic_save(ckpt.checkpoint_payload(run.model, encoding, metrics=metrics, **info), out_path)

    if context.is_main:
        record_run(state_path, out_path, RUNNING)
    try:
        stop_reason = _epochs(run, clock, val_tokens, context, save_state, save_best)
    finally:
        clock.close()
    if stop_reason == "interrupted":
        if context.is_main:
            save_state("interrupted")
            record_run(state_path, out_path, INTERRUPTED)
            log(_interrupted_message(run.epoch, out_path, state_path))
        return {"stop_reason": stop_reason, "epochs": run.epoch, "val_bits_per_note": run.best_val}
    metrics = {}
    if context.is_main:
        metrics = finish(out_path, parts, trigram, trigram_val, run.history, stop_reason, run.epoch, context.device,
                         encoding, info)
        save_state("finished")
        record_run(state_path, out_path, FINISHED)
        log(_done_message(metrics, stop_reason, run.epoch, trigram_val, out_path))
    context.barrier()
    return metrics


def _epochs(run, clock, val_tokens, context, save_state, save_best):
    """Train epoch after epoch until a limit; returns the reason the run stopped."""
    cfg = run.cfg
    with StopRequest() as stop:
        while run.epoch < cfg.epochs:
            train_bits, complete, stopped, out_of_time = run.run_epoch(stop, clock)
            if stopped and not complete:
                return "interrupted"  # a partial epoch is not scored; the saved state keeps its steps
            val_bits = context.broadcast(bits_per_note(run.model, val_tokens, device=context.device)
                                         if context.is_main else None)
            improved = run.end_epoch(train_bits, val_bits)
            clock.refresh()
            clock.bar.set_postfix({"epoch": f"{run.epoch}/{cfg.epochs}", "train bits/note": f"{train_bits:.3f}",
                                   "val": f"{val_bits:.3f}", "best": f"{run.best_val:.3f}"})
            if context.is_main:
                if improved:
                    save_best(run.epoch, val_bits)
                save_state("epoch")
            if stopped:
                return "interrupted"
            if run.bad_epochs >= cfg.patience:
                return "early stopping"
            if out_of_time:
                return "time budget"
    return "epochs"


def _interrupted_message(epochs, out_path, state_path):
    if not out_path.exists():  # no epoch finished yet (or none improved): only the state file exists
        return (f"Stopped on request after {epochs} epochs: no checkpoint was written yet. The training state is "
                f"in {state_path}; continue with: python train.py --resume {state_path}")
    return (f"Stopped on request after {epochs} epochs. The best model so far is in {out_path}; "
            f"continue with: python train.py --resume {out_path}")


def _done_message(metrics, stop_reason, epochs, trigram_val, out_path):
    test = (f"; unseen test songs {metrics['test_bits_per_note']:.3f} with the song memory, "
            f"{metrics['test_bits_per_note_lstm']:.3f} LSTM alone, trigram {metrics['trigram_test_bits_per_note']:.3f}"
            if "test_bits_per_note" in metrics else "")
    return (f"Done ({stop_reason}, {epochs} epochs): validation {metrics['val_bits_per_note']:.3f} bits/note "
            f"(trigram {trigram_val:.3f}){test}; written to {out_path}")


def fit_memory(model, found):
    """Fit the song memory's weights (EM) on the ``Predictions`` of held-out songs and store them in
    the model; returns them as the model stores them."""
    weights = fit_weights(found.lstm, found.remembered, found.orders, model.config.memory_order)
    model.memory_weights.copy_(torch.tensor(weights))
    return model.memory_weights.cpu().numpy()


def finish(out_path, parts, trigram, trigram_val, history, stop_reason, epochs, device, encoding, info):
    """Score the best model on the test songs and rewrite its checkpoint with the final figures."""
    if not out_path.exists():
        raise RuntimeError(f"Training produced no usable model (validation never improved); nothing written to {out_path}.")
    payload = ckpt.read_file(out_path, ckpt.FORMAT)
    model = ckpt.build_model(payload, out_path.name).to(device)
    val_tokens = [s.melody.tokens for s in parts["validation"]]
    test_tokens = [s.melody.tokens for s in parts["test"]]
    metrics = dict(payload["metrics"], history=history, stop_reason=stop_reason, epochs=epochs)
    val = predictions(model, val_tokens, device=device)
    weights = fit_memory(model, val)
    metrics["memory_weights"] = [float(w) for w in weights]
    metrics["val_bits_per_note_with_memory"] = val.bits_per_note(weights)
    metrics["val_ratio_to_trigram"] = metrics["val_bits_per_note"] / trigram_val
    if test_tokens:
        trigram_test = metrics["trigram_test_bits_per_note"] = trigram.bits_per_note(test_tokens)
        test = predictions(model, test_tokens, device=device)
        metrics["test_bits_per_note"] = test.bits_per_note(weights)
        metrics["test_bits_per_note_lstm"] = test.bits_per_note()
        metrics["test_ratio_to_trigram"] = metrics["test_bits_per_note"] / trigram_test
        metrics["test_ratio_to_trigram_lstm"] = metrics["test_bits_per_note_lstm"] / trigram_test
    ckpt.atomic_save(ckpt.checkpoint_payload(model, encoding, metrics=metrics, **dict(info, finished=True)), out_path)
    return metrics
