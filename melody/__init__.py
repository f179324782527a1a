"""Melody continuation with an LSTM, after "Generating melodies with PyTorch" (2020).

Public API::

    melody.load_model(path=None) -> MelodyLSTM                 # .encoding: how it reads melodies
    melody.encode_midi(path, model.encoding) -> Melody          # notes with lengths, key, bar grid
    melody.melody_from_text("C4/4 D4/8 r/8 E4/2", model.encoding) -> Melody
    melody.generate(model, seed, length, rule=None, steering=None, rng_seed=None, num_variations=1,
                    return_probs=False, memory=1.0, **options) -> [Melody, ...]
        # rule: SamplingRule(temperature=1.0, beta=None, top_k=None, top_p=None), or those as keywords
        # steering: Steering(pins=None, scale=None, loop=False, max_copy=None, ...), or those as keywords
    melody.sample_steps(model, seed, length, ...)               # the same, one step at a time
    melody.regenerate(model, tune, start_bar, end_bar, rule=None, steering=None, rng_seed=None, ...) -> Melody
        # new notes in bars start_bar..end_bar-1 that lead into the bars after; the rest unchanged
    melody.melody_to_midi(notes, tempo=120.0, program=0, key_shift=0, key=None) -> pretty_midi.PrettyMIDI

The names are imported when first used (``__getattr__`` below), so that ``import melody`` and
``melody --version`` do not load torch and numba.
"""
import contextlib
import importlib
import io

from .version import __version__  # noqa: F401  (the package's face)

# pretty_midi imports pyfluidsynth, which prints "'fluidsynth' was found at ..." to stdout whenever the
# CI environment variable is set. That line would corrupt `python -m melody ... --json` output, so the
# first import happens here, with stdout captured.
with contextlib.redirect_stdout(io.StringIO()):
    import pretty_midi  # noqa: F401

_WHERE = {  # public name -> the module that defines it
    "model.checkpoint": ["list_checkpoints", "load_model", "newest_checkpoint"],
    "data.crops": ["CropSampler", "cyclic_crops"],
    "music.encoding": ["CLASSIC", "RHYTHM", "EncodingConfig", "Melody", "encode_midi", "melody_from_pitches",
                       "melody_from_text"],
    "errors": ["CheckpointError", "DataError", "MelodyError", "MidiError", "SeedError"],
    "evaluate.evaluation": ["bits_per_note"],
    "music.midi_io": ["load_midi", "melody_to_midi", "notes_to_midi", "write_midi"],
    "model.network": ["MelodyLSTM", "ModelConfig"],
    "music.notes": ["HIGHEST_PITCH", "LOWEST_PITCH", "VOCAB_SIZE", "format_notes", "format_timed_notes", "note_name",
                    "parse_notes", "parse_timed_notes"],
    "generation.sampling": ["generate", "sample_steps"],
    "generation.regenerate": ["regenerate", "regenerate_candidates"],
    "generation.rules": ["SamplingRule"],
    "generation.steering": ["Steering"],
}
_MODULE_OF = {name: module for module, names in _WHERE.items() for name in names}
__all__ = sorted(_MODULE_OF)


def __getattr__(name):
    module = _MODULE_OF.get(name)
    if module is None:
        raise AttributeError(f"module 'melody' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value  # found once; later uses are plain attribute reads
    return value


def __dir__():
    return sorted(set(globals()) | set(__all__))
