"""The training loop: cyclic random crops, Adam, validation in bits per note, early stopping,
atomic checkpoints and resumable state. ``train.py`` is a thin command-line shell over ``train``."""
import math
import signal
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


@dataclass
class TrainConfig:
    """Settings of one training run; saved in the checkpoint and the resumable state."""

    epochs: int = 200
    minutes: float = 0.0  # time budget; 0 = no limit
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


class StopRequest:
    """Turns the first Ctrl-C or SIGTERM into a polite stop at the next step; a second Ctrl-C aborts."""

    def __init__(self):
        self.requested = False
        self._previous = {}

    def _handle(self, signum, frame):
        if self.requested and signum == signal.SIGINT:
            raise KeyboardInterrupt
        self.requested = True

    def __enter__(self):
        for sig in (signal.SIGINT, signal.SIGTERM):
            try:
                self._previous[sig] = signal.signal(sig, self._handle)
            except ValueError:  # not the main thread: leave signals alone
                pass
        return self

    def __exit__(self, *exc):
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)


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
    ``state_path_for(out_path)`` after every epoch and on a stop request. ``init_state`` (weights)
    and ``init_index`` (originality index) come from a checkpoint to fine-tune.

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
    device = context.device
    out_path, state_path = Path(out_path), state_path_for(out_path)
    train_tokens = [s.melody.tokens for s in parts["train"]]
    val_tokens = [s.melody.tokens for s in parts["validation"]]

    torch.manual_seed(cfg.seed)
    model = MelodyLSTM(model_config)
    counts = np.bincount(np.concatenate(train_tokens), minlength=model_config.vocab_size)
    model.set_start_distribution(counts)
    if init_state is not None:
        model.load_state_dict(dict(init_state, memory_weights=model.memory_weights))
        model.set_start_distribution(counts)  # this data's note frequencies; the memory is refitted at the end
    model.to(device)
    optimizer = torch.optim.AdamW(model.parameters(), lr=cfg.learning_rate, weight_decay=cfg.weight_decay)
    scheduler = torch.optim.lr_scheduler.ReduceLROnPlateau(optimizer, factor=0.5, patience=max(1, cfg.patience // 3))
    generator = torch.Generator().manual_seed(cfg.seed * 1000 + context.rank)
    sampler = CropSampler(train_tokens, cfg.crop_length, generator)
    batch = max(1, cfg.batch_size // context.world_size)
    steps_per_epoch = max(1, math.ceil((cfg.notes_per_epoch or sampler.total_notes) / (cfg.batch_size * cfg.crop_length)))

    epoch, best_val, bad_epochs, history, elapsed_before = 0, float("inf"), 0, [], 0.0
    if resume_state is not None:
        model.load_state_dict(resume_state["model_state"])
        optimizer.load_state_dict(resume_state["optimizer_state"])
        scheduler.load_state_dict(resume_state["scheduler_state"])
        generator.set_state(resume_state["generator_state"])
        epoch, best_val = resume_state["epoch"], resume_state["best_val"]
        bad_epochs, history = resume_state["bad_epochs"], list(resume_state["history"])
        elapsed_before = resume_state.get("elapsed_seconds", 0.0)
        log(f"Resuming at epoch {epoch} (best validation so far {best_val:.3f} bits/note).")
    net = model
    if context.enabled:
        net = torch.nn.parallel.DistributedDataParallel(model, device_ids=[device] if device.type == "cuda" else None)

    trigram = InterpolatedTrigram(model_config.vocab_size, train_tokens).fit_weights(val_tokens)
    trigram_val = trigram.bits_per_note(val_tokens)
    info = dict(
        data=data_summary(parts, source, list(skipped)),
        train_config=asdict(cfg),
        command=command,
        processes=context.world_size,
        finished=False,
        originality=(resume_state or {}).get("originality") or training_index(parts["train"], init_index),
    )

    def save_state(reason):
        state = {
            "format": ckpt.STATE_FORMAT,
            "format_version": ckpt.FORMAT_VERSION,
            "model_state": {k: v.detach().cpu() for k, v in model.state_dict().items()},
            "model_config": model_config.to_dict(),
            "encoding_config": encoding.to_dict(),
            "optimizer_state": optimizer.state_dict(),
            "scheduler_state": scheduler.state_dict(),
            "generator_state": generator.get_state(),
            "train_config": asdict(cfg),
            "epoch": epoch,
            "best_val": best_val,
            "bad_epochs": bad_epochs,
            "history": history,
            "elapsed_seconds": elapsed_before + time.monotonic() - start,
            "checkpoint": str(out_path),
            "source": str(source),
            "command": command,
            "saved_because": reason,
            "originality": info["originality"],
        }
        ckpt.atomic_save(state, state_path)

    def save_best(metrics):
        payload = ckpt.checkpoint_payload(model, encoding, metrics=metrics, **info)
        ckpt.atomic_save(payload, out_path)

    start = time.monotonic()
    stop_reason = "epochs"
    bar = tqdm(total=cfg.epochs * steps_per_epoch, initial=epoch * steps_per_epoch, unit="step",
               disable=not (progress and context.is_main), dynamic_ncols=True)
    with StopRequest() as stop:
        while epoch < cfg.epochs:
            net.train()
            nats, seen = 0.0, 0
            for _ in range(steps_per_epoch):
                nats += train_step(net, optimizer, sampler.sample(batch).to(device), cfg.grad_clip)
                seen += 1
                bar.update(1)
                if context.any(stop.requested):
                    break
            interrupted = context.any(stop.requested)
            if interrupted and seen < steps_per_epoch:
                stop_reason = "interrupted"
                break
            epoch += 1
            train_bits = nats / seen / math.log(2)
            val_bits = context.broadcast(bits_per_note(model, val_tokens, device=device) if context.is_main else None)
            scheduler.step(val_bits)
            improved = val_bits < best_val - 1e-4
            best_val, bad_epochs = (val_bits, 0) if improved else (best_val, bad_epochs + 1)
            history.append({"epoch": epoch, "train_bits_per_note": round(train_bits, 4),
                            "val_bits_per_note": round(val_bits, 4), "lr": optimizer.param_groups[0]["lr"]})
            bar.set_postfix({"epoch": epoch, "train bits/note": f"{train_bits:.3f}", "val": f"{val_bits:.3f}",
                             "best": f"{best_val:.3f}"})
            if context.is_main:
                if improved:
                    save_best({"best_epoch": epoch, "val_bits_per_note": val_bits, "trigram_val_bits_per_note": trigram_val,
                               "history": history})
                save_state("epoch")
            if interrupted:
                stop_reason = "interrupted"
                break
            if bad_epochs >= cfg.patience:
                stop_reason = "early stopping"
                break
            if cfg.minutes and elapsed_before + time.monotonic() - start > cfg.minutes * 60:
                stop_reason = "time budget"
                break
    bar.close()
    if stop_reason == "interrupted":
        if context.is_main:
            save_state("interrupted")
            log(f"Stopped on request after {epoch} epochs. The best model so far is in {out_path}; "
                f"continue with: python train.py --resume {out_path}")
        return {"stop_reason": stop_reason, "epochs": epoch, "val_bits_per_note": best_val}
    metrics = {}
    if context.is_main:
        metrics = finish(out_path, parts, trigram, trigram_val, history, stop_reason, epoch, device, encoding, info)
        test = (f"; unseen test songs {metrics['test_bits_per_note']:.3f} with the song memory, "
                f"{metrics['test_bits_per_note_lstm']:.3f} LSTM alone, trigram {metrics['trigram_test_bits_per_note']:.3f}"
                if "test_bits_per_note" in metrics else "")
        log(f"Done ({stop_reason}, {epoch} epochs): validation {metrics['val_bits_per_note']:.3f} bits/note "
            f"(trigram {trigram_val:.3f}){test}; written to {out_path}")
    context.barrier()
    return metrics


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
