"""Training speed: notes per second of this project's model and trainer step vs. the original
write-up's network (3-layer LSTM of 1024 units, one-hot input, batch norm, dropout 0.3), on the
same batches in the same run.

    .venv/bin/python bench/train_speed.py [--steps 8] [--batch-size 64] [--crop-length 128]
"""
import json

import torch
from common import machine, summary, timed, whole_number_options
from original import OriginalLSTM

from melody.data.crops import CropSampler
from melody.model.network import MelodyLSTM, ModelConfig
from melody.train.training import train_step


def step_function(model, batches):
    """The trainer's own step (``melody.training.train_step``), cycling through ``batches``."""
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    position = [0]

    def step():
        train_step(model, optimizer, batches[position[0] % len(batches)], grad_clip=1.0)
        position[0] += 1

    return step


def main():
    args = whole_number_options(__doc__, steps=8, batch_size=64, crop_length=128)
    torch.manual_seed(0)
    songs = [torch.randint(0, 37, (400,)).tolist() for _ in range(50)]
    sampler = CropSampler(songs, args.crop_length, torch.Generator().manual_seed(0))
    batches = [sampler.sample(args.batch_size) for _ in range(4)]
    notes = args.batch_size * args.crop_length
    results = {"machine": machine(), "batch": f"{args.batch_size} crops x {args.crop_length} notes"}
    for name, model in (("this project (MelodyLSTM, default ModelConfig)", MelodyLSTM(ModelConfig())),
                        ("original (one-hot, 3x1024 LSTM, batch norm, dropout 0.3)", OriginalLSTM())):
        model.train()
        stats = summary(timed(step_function(model, batches), args.steps))
        stats["notes_per_second"] = round(notes / (stats["median_ms"] / 1000))
        stats["parameters"] = sum(p.numel() for p in model.parameters())
        results[name] = stats
    ours, original = (results[k]["notes_per_second"] for k in list(results)[2:])
    results["speed-up"] = round(ours / original, 1)
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
