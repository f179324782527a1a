"""Melody continuation with an LSTM, after "Generating melodies with PyTorch" (2020).

Public API::

    melody.load_model(path=None) -> MelodyLSTM                 # .encoding: how it reads melodies
    melody.encode_midi(path, model.encoding) -> Melody          # notes with lengths, key, bar grid
    melody.melody_from_text("C4/4 D4/8 r/8 E4/2", model.encoding) -> Melody
    melody.generate(model, seed, length, temperature=1.0, beta=None, top_k=None, top_p=None,
                    rng_seed=None, num_variations=1, return_probs=False, memory=1.0) -> [Melody, ...]
    melody.sample_steps(model, seed, length, ...)               # the same, one step at a time
    melody.melody_to_midi(notes, tempo=120.0, program=0, key_shift=0, key=None) -> pretty_midi.PrettyMIDI
"""
import contextlib
import io

__version__ = "0.3.0"

# pretty_midi imports pyfluidsynth, which prints "'fluidsynth' was found at ..." to stdout whenever the
# CI environment variable is set. That line would corrupt `python -m melody ... --json` output, so the
# first import happens here, with stdout captured.
with contextlib.redirect_stdout(io.StringIO()):
    import pretty_midi  # noqa: F401

from .checkpoint import list_checkpoints, load_model, newest_checkpoint
from .data import CropSampler, cyclic_crops
from .encoding import CLASSIC, RHYTHM, EncodingConfig, Melody, encode_midi, melody_from_pitches, melody_from_text
from .errors import CheckpointError, DataError, MelodyError, MidiError, SeedError
from .evaluation import bits_per_note
from .midi_io import load_midi, melody_to_midi, notes_to_midi, write_midi
from .model import MelodyLSTM, ModelConfig
from .notes import (
    HIGHEST_PITCH,
    LOWEST_PITCH,
    VOCAB_SIZE,
    format_notes,
    format_timed_notes,
    note_name,
    parse_notes,
    parse_timed_notes,
)
from .sampling import generate, sample_steps

__all__ = [
    "CLASSIC", "CheckpointError", "CropSampler", "DataError", "EncodingConfig", "Melody", "MelodyError", "MelodyLSTM",
    "MidiError", "ModelConfig", "RHYTHM", "SeedError", "HIGHEST_PITCH", "LOWEST_PITCH", "VOCAB_SIZE",
    "bits_per_note", "cyclic_crops", "encode_midi", "format_notes", "format_timed_notes", "generate",
    "list_checkpoints", "load_midi", "load_model", "melody_from_pitches", "melody_from_text", "melody_to_midi",
    "newest_checkpoint", "note_name", "notes_to_midi", "parse_notes", "parse_timed_notes", "sample_steps",
    "write_midi",
]
