import sys

import numpy as np
import pytest
import soundfile

import melody
from melody.render import SAMPLE_RATE_HZ, TAIL_SECONDS, Renderer, encode_audio, find_soundfonts


def rms(x):
    return float(np.sqrt(np.mean(np.square(x, dtype=np.float64)))) if len(x) else 0.0


@pytest.fixture(scope="module")
def fluid():
    renderer = Renderer(backend="fluidsynth", voices=1)  # raises if FluidSynth or a soundfont is missing
    yield renderer
    renderer.close()


def test_soundfonts_project_first_then_system_then_pretty_midi(tmp_path):
    (tmp_path / "b.sf2").write_bytes(b"x")
    (tmp_path / "a.sf2").write_bytes(b"x")
    fonts = find_soundfonts(tmp_path)
    assert [f.label for f in fonts[:2]] == ["a.sf2", "b.sf2"]
    assert fonts[-1].label == "TimGM6mb.sf2 (pretty_midi)"
    assert len({f.path for f in fonts}) == len(fonts)


def test_fluidsynth_renders_audible_audio_as_long_as_the_notes(fluid):
    midi = melody.notes_to_midi([60, 62, 64, 65, 67, 69, 71, 72], tempo=120)  # 8 eighths = 2 s
    audio = fluid.render_audio(midi)
    assert fluid.backend == "FluidSynth"
    assert audio.dtype == np.float32 and audio.ndim == 1
    assert len(audio) == round((2.0 + TAIL_SECONDS) * SAMPLE_RATE_HZ)
    assert rms(audio[: 2 * SAMPLE_RATE_HZ]) > 1e-3
    assert np.abs(audio).max() <= 1.0
    # every note sounds: each eighth-note slice carries energy
    slices = audio[: 2 * SAMPLE_RATE_HZ].reshape(8, -1)
    assert all(rms(s) > 1e-3 for s in slices)


def test_renders_do_not_leak_into_each_other(fluid):
    notes = melody.notes_to_midi([60, 64, 67, 72], tempo=120)
    first = fluid.render_audio(notes)
    fluid.render_audio(melody.notes_to_midi([48, 55], tempo=30, program=48))  # long, loud strings
    again = fluid.render_audio(notes)
    assert len(again) == len(first)
    assert rms(again - first) < 1e-2 * rms(first)


def test_program_changes_the_sound(fluid):
    piano = fluid.render_audio(melody.notes_to_midi([60, 64, 67], program=0))
    flute = fluid.render_audio(melody.notes_to_midi([60, 64, 67], program=73))
    assert rms(piano - flute) > 0.2 * rms(piano)


def test_audio_is_capped(fluid):
    long = melody.notes_to_midi([60] * 200, tempo=120)  # 50 s of notes
    assert len(fluid.render_audio(long, max_seconds=3.0)) == round((3.0 + TAIL_SECONDS) * SAMPLE_RATE_HZ)


def test_built_in_synth_when_fluidsynth_is_missing(monkeypatch):
    monkeypatch.setitem(sys.modules, "fluidsynth", None)  # `import fluidsynth` now fails
    renderer = Renderer()
    assert renderer.backend == "built-in synth"
    assert "FluidSynth unavailable" in renderer.describe()
    audio = renderer.render_audio(melody.notes_to_midi([60, 62, 64, 65], tempo=120))
    assert len(audio) == round((1.0 + TAIL_SECONDS) * SAMPLE_RATE_HZ)
    assert rms(audio) > 1e-3
    with pytest.raises(ImportError):
        Renderer(backend="fluidsynth")


def test_ogg_is_small_and_reads_back(fluid, tmp_path):
    audio = fluid.render_audio(melody.notes_to_midi([60 + i % 12 for i in range(160)], tempo=120))  # 41 s
    path = encode_audio(audio, SAMPLE_RATE_HZ, tmp_path / "x.ogg")
    encode_audio(audio, SAMPLE_RATE_HZ, tmp_path / "x.wav")
    back, rate = soundfile.read(path)
    assert rate == SAMPLE_RATE_HZ
    assert abs(len(back) - len(audio)) < 0.01 * SAMPLE_RATE_HZ
    assert rms(back) > 0.5 * rms(audio)
    assert path.stat().st_size < (tmp_path / "x.wav").stat().st_size / 5
