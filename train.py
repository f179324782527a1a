"""Train (or refresh) the melody model on a folder of MIDI files.

    python train.py                      # data/midi/ if it has MIDI files, else music21's folk songs
    python train.py --data ~/my-midis --minutes 20
    python train.py --resume             # continue the latest interrupted run, wherever it was written
    python train.py --fit-sampling checkpoints/rhythm.pt --data ~/my-midis   # refit form plan, lengths
    torchrun --nproc_per_node=2 train.py --data ~/my-midis   # data-parallel

A thin shell over melody.train.command (the command line) and melody.train.training (the loop);
`python train.py --help` lists every flag.
"""
from melody.train.command import cli, main, run  # noqa: F401  (main and cli: for scripts and tests)

if __name__ == "__main__":
    run()
