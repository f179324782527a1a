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

from ..data.crops import CropSampler
from ..data.stopping import StopRequest
from ..evaluate.evaluation import total_bits
from ..generation.originality import build_index, merge_indexes
from ..model import checkpoint as ckpt
from ..model.network import MelodyLSTM, ModelConfig
from . import fitting as report
from .budget import in_time
from .fitting import sequences
from .runs import FINISHED, INTERRUPTED, RUNNING, record_run


@dataclass
class TrainConfig:
    """Settings of one training run; saved in the checkpoint and the resumable state."""

    epochs: int = 200
    minutes: float = 0.0  # time budget of each invocation (a resumed run gets it anew); 0 = none
    max_steps: int = 0  # step budget of each invocation, like minutes; 0 = none
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
    """One optimiser step on a batch of crops ``[batch, length + 1]`` of tokens, or ``(tokens,
    positions)`` of that shape (next-token prediction, gradients clipped to ``grad_clip``); returns
    the loss in nats per token."""
    tokens, positions = crops if isinstance(crops, tuple) else (crops, None)
    logits, _ = net(tokens[:, :-1], None if positions is None else positions[:, :-1])
    loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), tokens[:, 1:].reshape(-1))
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    torch.nn.utils.clip_grad_norm_(net.parameters(), grad_clip)
    optimizer.step()
    return loss.item()


def training_index(songs, earlier=None):
    """The originality index of the training songs, joined with the index of the checkpoint the
    model started from (its pretraining songs), if any."""
    index = build_index([s.melody.pitches for s in songs], [s.name for s in songs])
    return merge_indexes(earlier, index) if earlier else index


def data_summary(parts, source, skipped):
    """What the model was trained on, for the checkpoint (names and counts, not the notes)."""
    sources = [str(source)] if isinstance(source, (str, Path)) else [str(s) for s in source]
    summary = {"source": " + ".join(sources), "sources": sources, "skipped_files": len(skipped),
               "skipped": [list(s) for s in skipped[:50]]}
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

    def __init__(self, parts, model_config, cfg, context, encoding, init_state=None, resume_state=None):
        self.cfg, self.context = cfg, context
        train_tokens = [s.melody.tokens for s in parts["train"]]
        torch.manual_seed(cfg.seed)
        model = MelodyLSTM(model_config)
        counts = np.bincount(np.concatenate(train_tokens), minlength=model_config.vocab_size)
        model.set_start_distribution(counts)
        if init_state is not None:
            model.load_state_dict(dict(init_state, memory_weights=model.memory_weights, echo_weights=model.echo_weights))
            model.set_start_distribution(counts)  # this data's note frequencies; the memory is refitted at the end
        self.model = model.to(context.device)
        self.optimizer = torch.optim.AdamW(model.parameters(), lr=cfg.learning_rate, weight_decay=cfg.weight_decay)
        self.scheduler = torch.optim.lr_scheduler.ReduceLROnPlateau(self.optimizer, factor=0.5,
                                                                    patience=max(1, cfg.patience // 3))
        self.generator = torch.Generator().manual_seed(cfg.seed * 1000 + context.rank)
        self.sampler = CropSampler(sequences(parts["train"], encoding), cfg.crop_length, self.generator)
        self.batch = max(1, cfg.batch_size // context.world_size)
        notes = cfg.notes_per_epoch or self.sampler.total_notes
        self.steps_per_epoch = max(1, math.ceil(notes / (cfg.batch_size * cfg.crop_length)))
        self.epoch, self.best_val, self.bad_epochs, self.history, self.elapsed_before = 0, float("inf"), 0, [], 0.0
        self.val_songs = None  # how many validation songs every validation scores, once the first has run
        if resume_state is not None:
            self._restore(resume_state)
        self.net = model
        if context.enabled:
            device = context.device
            self.net = torch.nn.parallel.DistributedDataParallel(model, device_ids=[device] if device.type == "cuda" else None)

    def _restore(self, state):
        self.model.load_state_dict(dict(state.model_state, echo_weights=self.model.echo_weights))
        self.optimizer.load_state_dict(state.optimizer_state)
        self.scheduler.load_state_dict(state.scheduler_state)
        self.generator.set_state(state.generator_state)
        self.epoch, self.best_val = state.epoch, state.best_val
        self.bad_epochs, self.history = state.bad_epochs, list(state.history)
        self.elapsed_before = state.elapsed_seconds

    def run_epoch(self, stop, clock):
        """Train on one epoch's crops. Returns ``(train bits per note, complete, stop requested, budget
        spent)``; the epoch ends early on a stop request or when the time or step budget is spent."""
        self.net.train()
        nats, seen, stopped, out_of_time = 0.0, 0, False, False
        while seen < self.steps_per_epoch and not (stopped or out_of_time):
            crops = self.sampler.sample(self.batch)
            crops = tuple(c.to(self.context.device) for c in crops) if isinstance(crops, tuple) else \
                crops.to(self.context.device)
            nats += train_step(self.net, self.optimizer, crops, self.cfg.grad_clip)
            seen += 1
            clock.step()
            # Every process must take the same decision, or DDP's next all-reduce waits forever.
            stopped, out_of_time = self.context.any_each([stop.requested, clock.out_of_time() or clock.out_of_steps()])
        return nats / seen / math.log(2), seen == self.steps_per_epoch, stopped, out_of_time

    def validate(self, sequences, clock, progress):
        """Validation bits per note (teacher-forced; the LSTM alone, as the memory is fitted at the end).
        Under a time budget the first validation scores the songs it reaches within
        ``Clock.VALIDATION_SHARE`` of the budget, and every later one the same songs, so that epochs
        compare; it says so when that is not all of them."""
        first = self.val_songs is None
        chosen = sequences if first else sequences[: self.val_songs]
        started = time.monotonic()
        results, done = in_time(chosen, lambda chunk: total_bits(self.model, chunk, device=self.context.device),
                                clock.validation_deadline() if first else None, "validation", progress)
        clock.validated(time.monotonic() - started)
        if first:
            self.val_songs = done
            if done < len(sequences):
                tqdm.write(f"Validation on {done} of {len(sequences)} songs (the same ones every epoch): all of them "
                           f"would take more than {Clock.VALIDATION_SHARE:.0%} of the time budget.")
        return sum(bits for bits, _ in results) / max(sum(tokens for _, tokens in results), 1)

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
    """This invocation's time and steps against its budgets (``minutes``, ``max_steps``; 0 = none),
    shown as the progress bar.

    The time budget covers everything after the data is read. Training steps stop (checked after
    every step) while there is still time for one more validation (as long as the longest so far;
    at most ``VALIDATION_SHARE`` of the budget, see ``TrainingRun.validate``) and for the fitting at
    the end of the run (``END_SHARE``, see ``melody.train.fitting.finish``). With a time budget the bar
    counts the budget's seconds, so its total and time left are true; without one it counts the steps
    still to run."""

    VALIDATION_SHARE = 0.1
    END_SHARE = 0.2

    def __init__(self, minutes, steps_per_epoch, epochs, first_epoch, enabled, max_steps=0, start=None):
        self.budget_seconds = minutes * 60
        self.max_steps, self.steps, self.validation_seconds = max_steps, 0, None
        self.start = time.monotonic() if start is None else start
        if self.budget_seconds:
            self.bar = tqdm(total=self.budget_seconds, desc=f"time budget {tqdm.format_interval(self.budget_seconds)}",
                            disable=not enabled, dynamic_ncols=True,
                            bar_format="{desc}: {percentage:3.0f}%|{bar}| [{elapsed}<{remaining}{postfix}]")
        else:
            total = epochs * steps_per_epoch
            if max_steps:
                total = min(total, first_epoch * steps_per_epoch + max_steps)
            self.bar = tqdm(total=total, initial=first_epoch * steps_per_epoch, unit="step", disable=not enabled,
                            dynamic_ncols=True)

    @property
    def elapsed(self):
        """Seconds since this invocation's training began."""
        return time.monotonic() - self.start

    def step(self):
        """After a training step."""
        self.steps += 1
        self.bar.update(1) if not self.budget_seconds else self.refresh()

    def refresh(self):
        """Bring a budget bar up to the time (after a validation, say)."""
        if self.budget_seconds:
            self.bar.update(min(self.elapsed, self.budget_seconds) - self.bar.n)

    def out_of_time(self):
        """Whether training must stop to leave the last validation and the end of the run their time."""
        if not self.budget_seconds:
            return False
        validation = self.VALIDATION_SHARE * self.budget_seconds if self.validation_seconds is None \
            else self.validation_seconds
        return self.elapsed + validation + self.END_SHARE * self.budget_seconds >= self.budget_seconds

    def out_of_steps(self):
        return bool(self.max_steps) and self.steps >= self.max_steps

    def end(self):
        """When the time budget is spent (``time.monotonic()``), or ``None`` without one."""
        return self.start + self.budget_seconds if self.budget_seconds else None

    def validation_deadline(self):
        """When a validation must end: ``VALIDATION_SHARE`` of the budget from now, within the budget."""
        return min(time.monotonic() + self.VALIDATION_SHARE * self.budget_seconds, self.end()) \
            if self.budget_seconds else None

    def validated(self, seconds):
        """Note how long a validation took (the longest one is what the next is expected to take)."""
        self.validation_seconds = max(seconds, self.validation_seconds or 0.0)

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
    Every run is noted in the record of runs (``melody.train.runs``) that ``--resume`` searches.

    Returns
    -------
    dict
        The final metrics (validation/test bits per note, trigram baseline, epochs, stop reason).
    """
    from ..music.encoding import EncodingConfig
    from .distributed import Context

    context = context or Context()
    encoding = encoding or EncodingConfig()
    cfg = train_config
    out_path, state_path = Path(out_path), state_path_for(out_path)
    started = time.monotonic()  # the time budget counts from here: setting up the model and its index too
    run = TrainingRun(parts, model_config, cfg, context, encoding, init_state, resume_state)
    if resume_state is not None:
        log(f"Resuming at epoch {run.epoch} (best validation so far {run.best_val:.3f} bits/note).")
    val_sequences = sequences(parts["validation"], encoding)
    info = dict(
        data=data_summary(parts, source, list(skipped)),
        train_config=asdict(cfg),
        command=command,
        processes=context.world_size,
        finished=False,
        originality=resume_state.originality if resume_state is not None else training_index(parts["train"],
                                                                                             init_index),
    )
    # cwd: a resumed run may start elsewhere (--resume finds it wherever it is): relative paths are from here.
    settings = dict(model_config=model_config.to_dict(), encoding_config=encoding.to_dict(), train_config=asdict(cfg),
                    checkpoint=str(out_path), sources=info["data"]["sources"], command=command,
                    originality=info["originality"], cwd=os.getcwd())

    clock = Clock(cfg.minutes, run.steps_per_epoch, cfg.epochs, run.epoch, progress and context.is_main, cfg.max_steps,
                  started)

    def save_state(reason):
        ckpt.TrainingState(**run.state(clock.elapsed), **settings, saved_because=reason,
                           finished=reason == "finished").save(state_path)

    def save_best(epoch, val_bits):
        metrics = {"best_epoch": epoch, "val_bits_per_note": val_bits, "history": run.history}
        ckpt.atomic_save(ckpt.checkpoint_payload(run.model, encoding, metrics=metrics, **info), out_path)

    if context.is_main:
        record_run(state_path, out_path, RUNNING)
    try:
        stop_reason = _epochs(run, clock, val_sequences, context, save_state, save_best, progress)
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
        metrics = report.finish(out_path, parts, run.history, stop_reason, run.epoch, context.device, encoding, info,
                                progress, deadline=clock.end(), log=log)
        save_state("finished")
        record_run(state_path, out_path, FINISHED)
        log(report.done_message(metrics, stop_reason, run.epoch, out_path))
    context.barrier()
    return metrics


def _epochs(run, clock, val_sequences, context, save_state, save_best, progress):
    """Train epoch after epoch until a limit; returns the reason the run stopped."""
    cfg = run.cfg
    with StopRequest() as stop:
        while run.epoch < cfg.epochs:
            train_bits, complete, stopped, out_of_time = run.run_epoch(stop, clock)
            if stopped and not complete:
                return "interrupted"  # a partial epoch is not scored; the saved state keeps its steps
            val_bits = context.broadcast(run.validate(val_sequences, clock, progress and context.is_main)
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
                return "step budget" if clock.out_of_steps() else "time budget"
    return "epochs"


def _interrupted_message(epochs, out_path, state_path):
    if not out_path.exists():  # no epoch finished yet (or none improved): only the state file exists
        return (f"Stopped on request after {epochs} epochs: no checkpoint was written yet. The training state is "
                f"in {state_path}; continue with: python train.py --resume {state_path}")
    return (f"Stopped on request after {epochs} epochs. The best model so far is in {out_path}; "
            f"continue with: python train.py --resume {out_path}")
