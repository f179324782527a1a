import sys

import numpy as np
import pytest
import soundfile

import melody
from melody.serve.render import SAMPLE_RATE_HZ, TAIL_SECONDS, Renderer, encode_audio, find_soundfonts


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
    step = SAMPLE_RATE_HZ // 4
    assert all(rms(audio[i * step : (i + 1) * step]) > 1e-3 for i in range(8))


def test_renders_do_not_leak_into_each_other(fluid):
    notes = melody.notes_to_midi([60, 64, 67, 72], tempo=120)
    first = fluid.render_audio(notes)
    fluid.render_audio(melody.notes_to_midi([48, 55], tempo=30, program=48))  # long, loud strings
    fluid._notes.clear()  # render every note afresh after the strings
    again = fluid.render_audio(notes)
    assert len(again) == len(first)
    assert rms(again - first) < 1e-2 * rms(first)


def test_notes_mixed_one_by_one_sound_like_one_performance(fluid):
    """The per-note cache is a shortcut: its mix must match FluidSynth playing the whole melody."""
    midi = melody.notes_to_midi([60 + (i * 7) % 24 for i in range(32)], tempo=120)
    mixed = fluid.render_audio(midi)
    voice = fluid._pool.get()
    try:
        frames = len(mixed) // 64 * 64
        played = np.zeros(2 * frames, np.float32)
        position = 0
        voice.synth.program_select(0, voice.sfid, 0, 0)
        events = sorted([(n.start, 1, n.pitch) for n in midi.instruments[0].notes]
                        + [(n.end, 0, n.pitch) for n in midi.instruments[0].notes])
        for time_s, on, pitch in events:
            at = min(int(round(time_s * SAMPLE_RATE_HZ)), frames)
            voice._write(played, position, at)
            position = at
            voice.synth.noteon(0, pitch, 96) if on else voice.synth.noteoff(0, pitch)
        voice._write(played, position, frames)
        voice._reset()
    finally:
        fluid._pool.put(voice)
    played = played.reshape(-1, 2).mean(axis=1)

    def envelope(x, window=SAMPLE_RATE_HZ // 20):
        n = len(x) // window
        return np.sqrt((x[: n * window].reshape(n, window) ** 2).mean(1))

    n = frames - SAMPLE_RATE_HZ // 10  # leave out the final fade
    assert np.corrcoef(envelope(mixed[:n]), envelope(played[:n]))[0, 1] > 0.99
    assert abs(rms(mixed[:n]) / rms(played[:n]) - 1) < 0.05


def test_a_note_stops_rendering_once_its_tail_is_silent_and_sounds_the_same(fluid, monkeypatch):
    import melody.serve.render as render

    notes = [(60, 0, 2000), (84, 0, 20000), (55, 48, 8000), (72, 73, 500)]  # piano, strings, flute

    def rendered():  # on a fresh synthesizer each time: FluidSynth's chorus carries a little from note to note
        voice = render.FluidSynthVoice(fluid.soundfont.path, SAMPLE_RATE_HZ)
        write, frames = voice._write, []

        def counted(buffer, start, stop):
            frames[-1] += stop - start
            write(buffer, start, stop)

        voice._write = counted
        try:
            waves = []
            for pitch, program, held in notes:
                frames.append(0)
                waves.append(voice.render_note(pitch, 96, program, held))
            return waves, frames
        finally:
            voice.close()

    quick, quick_frames = rendered()
    monkeypatch.setattr(render, "TAIL_CHUNK_FRAMES", 10**9)  # the whole ring at once, as before
    whole, whole_frames = rendered()
    ring = int(render.MAX_RING_SECONDS * SAMPLE_RATE_HZ)
    for (_, _, held), a, b, used, before in zip(notes, quick, whole, quick_frames, whole_frames):
        assert len(a) == len(b) and np.abs(a - b).max() < 1e-6  # the same waveform
        assert before >= held + ring and used < held + ring // 2  # for less than half the synthesis


def test_note_cache_is_bounded(fluid, monkeypatch):
    import melody.serve.render as render

    monkeypatch.setattr(render, "CACHED_NOTES", 5)
    fluid._notes.clear()
    fluid.render_audio(melody.notes_to_midi(list(range(60, 72)), tempo=120))
    assert len(fluid._notes) == 5


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


def test_mp3_is_small_and_wav_is_exact(fluid, tmp_path):
    audio = fluid.render_audio(melody.notes_to_midi([60 + i % 12 for i in range(160)], tempo=120))  # 41 s
    path = encode_audio(audio, SAMPLE_RATE_HZ, tmp_path / "x.mp3")
    wav = encode_audio(audio, SAMPLE_RATE_HZ, tmp_path / "x.wav")
    back, rate = soundfile.read(path)
    assert rate == SAMPLE_RATE_HZ
    assert abs(len(back) - len(audio)) < 0.1 * SAMPLE_RATE_HZ  # MP3 pads a few frames
    assert rms(back) > 0.5 * rms(audio)
    assert path.stat().st_size < wav.stat().st_size / 4
    exact, rate = soundfile.read(wav)
    assert rate == SAMPLE_RATE_HZ and len(exact) == len(audio)
    assert np.abs(exact - np.clip(audio, -1, 1)).max() < 1 / 16000  # 16-bit rounding only
    with pytest.raises(ValueError, match="mp3 or .wav"):
        encode_audio(audio, SAMPLE_RATE_HZ, tmp_path / "x.ogg")


def test_an_mp3_writer_stopped_before_any_audio_leaves_the_error_that_stopped_it_alone(tmp_path):
    from melody.serve.render import Mp3Writer

    writer = Mp3Writer(tmp_path / "x.mp3", SAMPLE_RATE_HZ, tmp_path / "x.wav")
    assert writer.close() == tmp_path / "x.mp3"  # no audio came (the request failed first): nothing to flush


def test_the_wav_is_complete_as_soon_as_the_last_piece_is_in_while_the_mp3_encodes(tmp_path):
    import wave

    from melody.serve.render import Mp3Writer

    writer = Mp3Writer(tmp_path / "x.mp3", SAMPLE_RATE_HZ, tmp_path / "x.wav")
    tone = 0.3 * np.sin(np.arange(3 * SAMPLE_RATE_HZ) * 2 * np.pi * 440 / SAMPLE_RATE_HZ)
    for piece in np.split(tone, 3):
        writer.write(piece)
    writer.finish_wav()
    with wave.open(str(tmp_path / "x.wav")) as wav:  # as a DAW takes it: 44.1 kHz, stereo, 16 bits
        assert (wav.getframerate(), wav.getnchannels(), wav.getsampwidth()) == (44100, 2, 2)
        assert wav.getnframes() == len(tone) * 44100 // SAMPLE_RATE_HZ
    stereo, rate = soundfile.read(tmp_path / "x.wav")
    assert np.array_equal(stereo[:, 0], stereo[:, 1])
    spectrum = np.abs(np.fft.rfft(stereo[:, 0]))
    assert abs(np.argmax(spectrum) * rate / len(stereo) - 440) < 1  # the same tone, resampled
    assert abs(np.sqrt(np.mean(stereo[rate:2 * rate, 0] ** 2)) - 0.3 / np.sqrt(2)) < 0.01  # at the same level
    writer.close()
    back, rate = soundfile.read(tmp_path / "x.mp3")
    assert abs(len(back) - len(tone)) < 0.1 * SAMPLE_RATE_HZ
