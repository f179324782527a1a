"""The HTTP API's ``/regenerate``: a typed tune with new notes in a range of bars, as notes text, an MP3
file and a MIDI file (with markers where the range starts and ends). The playground checks the
request and runs :func:`make_files` in a generation worker."""
from dataclasses import dataclass
from pathlib import Path

from ..generation.regenerate import bar_range, regenerate
from ..music.encoding import notes_text
from ..music.midi_io import melody_to_midi, step_seconds, write_midi
from .export import bar_start
from .render import encode_audio

MAX_AUDIO_SECONDS = 600.0  # the longest tune rendered to audio


@dataclass
class Regenerated:
    """What ``/regenerate`` answers: the whole new tune as typed notes (in its own key), its MP3 and MIDI files."""

    notes: str
    audio_path: Path
    midi_path: Path


def make_files(model, renderer, tune, start_bar, end_bar, rule, rng_seed, tempo_bpm, program, folder):
    """Regenerate bars ``start_bar`` .. ``end_bar`` of ``tune`` and write the result into ``folder``."""
    new = regenerate(model, tune, start_bar, end_bar, rule, rng_seed=rng_seed)
    start, end = bar_range(tune, start_bar, end_bar)
    origin, step = bar_start(new), step_seconds(tempo_bpm)
    midi = melody_to_midi(new.original_notes(), tempo=tempo_bpm, program=program, key=new.key, start_step=origin,
                          time_signature=new.time_signature())
    folder = Path(folder)
    write_midi(midi, folder / "regenerated.mid", [((start - origin) * step, "regenerated bars start"),
                                                  ((end - origin) * step, "regenerated bars end")])
    audio = renderer.render_audio(midi, max_seconds=MAX_AUDIO_SECONDS)
    encode_audio(audio, renderer.sample_rate_hz, folder / "regenerated.mp3")
    return Regenerated(notes_text(new, new.key_shift), folder / "regenerated.mp3", folder / "regenerated.mid")
