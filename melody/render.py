"""Audio: a melody rendered by FluidSynth with a soundfont loaded once and reused, or, when the
FluidSynth library or a soundfont is missing, by a simple built-in synth."""
import ctypes
import logging
import os
import queue
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pretty_midi

log = logging.getLogger(__name__)

SAMPLE_RATE_HZ = 44100
TAIL_SECONDS = 1.0  # release after the last note
BLOCK_FRAMES = 64  # FluidSynth applies events on 64-frame blocks
PROJECT_SOUNDFONTS = Path(__file__).resolve().parent.parent / "soundfonts"
SYSTEM_SOUNDFONTS = ("/usr/share/sounds/sf2/FluidR3_GM.sf2", "/usr/share/sounds/sf2/default-GM.sf2",
                     "/usr/share/soundfonts/FluidR3_GM.sf2", "/usr/share/soundfonts/default.sf2")


@dataclass(frozen=True)
class Soundfont:
    label: str
    path: str


def find_soundfonts(folder=PROJECT_SOUNDFONTS):
    """Soundfonts in order of preference: every ``.sf2`` in ``soundfonts/``, the system General MIDI
    one (Debian's FluidR3_GM), then the small one pretty_midi ships."""
    candidates = [Soundfont(p.name, str(p)) for p in sorted(Path(folder).glob("*.sf2"))]
    candidates += [Soundfont(f"{Path(p).name} (system)", p) for p in SYSTEM_SOUNDFONTS]
    candidates.append(Soundfont("TimGM6mb.sf2 (pretty_midi)", os.path.join(os.path.dirname(pretty_midi.__file__), "TimGM6mb.sf2")))
    found, seen = [], set()
    for font in candidates:
        real = os.path.realpath(font.path)
        if os.path.isfile(real) and real not in seen:
            seen.add(real)
            found.append(font)
    return found


def note_events(midi):
    """``(pitch, start_s, end_s, velocity, channel, program)`` of every non-drum note, sorted by start."""
    events = []
    for channel, instrument in enumerate(i for i in midi.instruments if not i.is_drum):
        channel = channel + (channel >= 9)  # channel 9 is drums in General MIDI
        events += [(n.pitch, n.start, n.end, n.velocity, channel % 16, instrument.program) for n in instrument.notes]
    return sorted(events, key=lambda e: e[1])


class FluidSynthVoice:
    """One FluidSynth synthesizer with one soundfont; renders into float32 without an audio driver."""

    name = "FluidSynth"

    def __init__(self, soundfont_path, sample_rate_hz):
        import fluidsynth  # raises ImportError when the FluidSynth library is missing

        self.sample_rate_hz = sample_rate_hz
        self.synth = fluidsynth.Synth(gain=0.8, samplerate=float(sample_rate_hz))
        self.sfid = self.synth.sfload(str(soundfont_path))
        if self.sfid < 0:
            self.synth.delete()
            raise OSError(f"FluidSynth could not load the soundfont {soundfont_path}")
        # pyfluidsynth wraps only the 16-bit writer; the float writer renders straight into numpy.
        self._write_float = fluidsynth._fl.fluid_synth_write_float
        self._write_float.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_void_p, ctypes.c_int, ctypes.c_int,
                                      ctypes.c_void_p, ctypes.c_int, ctypes.c_int]
        # Re-setting the sample rate rebuilds reverb and chorus, whose state otherwise carries over.
        self._set_rate = getattr(fluidsynth._fl, "fluid_synth_set_sample_rate", None)
        if self._set_rate is not None:
            self._set_rate.argtypes = [ctypes.c_void_p, ctypes.c_float]
        self._reset()

    def _write(self, buffer, start, stop):
        if stop > start:
            address = buffer.ctypes.data
            self._write_float(self.synth.synth, stop - start, address, 2 * start, 2, address, 2 * start + 1, 2)

    def _reset(self):
        # system_reset alone only releases sounding voices; all_sounds_off after it silences them,
        # and a short render applies both before the next request.
        self.synth.system_reset()
        self.synth.all_sounds_off(-1)
        if self._set_rate is not None:
            self._set_rate(self.synth.synth, float(self.sample_rate_hz))
        self._write(np.zeros(8 * BLOCK_FRAMES, np.float32), 0, 4 * BLOCK_FRAMES)

    def render(self, events, frames):
        timeline = []
        for pitch, start, end, velocity, channel, program in events:
            timeline.append((start, 1, channel, pitch, velocity, program))
            timeline.append((end, 0, channel, pitch, 0, program))
        timeline.sort(key=lambda e: (e[0], e[1]))
        buffer = np.zeros(2 * frames, np.float32)
        programs, position = {}, 0
        try:
            for time_s, is_on, channel, pitch, velocity, program in timeline:
                at = min(int(round(time_s * self.sample_rate_hz / BLOCK_FRAMES)) * BLOCK_FRAMES, frames)
                self._write(buffer, position, at)
                position = at
                if is_on:
                    if programs.get(channel) != program:
                        self.synth.program_select(channel, self.sfid, 0, program)
                        programs[channel] = program
                    self.synth.noteon(channel, pitch, velocity)
                else:
                    self.synth.noteoff(channel, pitch)
            self._write(buffer, position, frames)
        finally:
            self._reset()
        return buffer.reshape(-1, 2).mean(axis=1)

    def close(self):
        self.synth.delete()


class SimpleSynth:
    """A few decaying harmonics per note: no soundfont, no library, always available."""

    name = "built-in synth"
    HARMONICS = np.array([1.0, 0.5, 0.25, 0.12, 0.06])

    def __init__(self, sample_rate_hz):
        self.sample_rate_hz = sample_rate_hz

    def render(self, events, frames):
        out = np.zeros(frames, np.float64)
        rate = self.sample_rate_hz
        for pitch, start, end, velocity, _channel, _program in events:
            first = int(start * rate)
            length = min(int((end - start + 0.15) * rate), frames - first)
            if length <= 0:
                continue
            t = np.arange(length) / rate
            f0 = 440.0 * 2 ** ((pitch - 69) / 12)
            k = np.arange(1, len(self.HARMONICS) + 1)
            weights = np.where(k * f0 < rate / 2, self.HARMONICS, 0.0)
            wave = np.sin(2 * np.pi * f0 * np.outer(t, k)) @ weights
            envelope = np.minimum(t / 0.005, 1.0) * np.exp(-1.5 * t)
            released = t > end - start
            envelope[released] *= np.exp(-(t[released] - (end - start)) / 0.03)
            out[first : first + length] += 0.1 * velocity / 127 * envelope * wave
        return out.astype(np.float32)

    def close(self):
        pass


class Renderer:
    """Renders MIDI to audio with one soundfont, loaded once; safe to share between threads.

    Parameters
    ----------
    soundfont : Soundfont or None
        None takes the first of :func:`find_soundfonts`.
    voices : int
        Synthesizers kept ready (the soundfont's samples are shared between them), so that this
        many requests can render at once; more wait for a free one.
    backend : "auto", "fluidsynth" or "simple"
        "auto" falls back to the built-in synth when FluidSynth cannot start; "fluidsynth" raises.
    """

    def __init__(self, soundfont=None, voices=2, backend="auto", sample_rate_hz=SAMPLE_RATE_HZ):
        self.sample_rate_hz = sample_rate_hz
        self.fallback_reason = None
        self._pool = queue.Queue()
        fonts = [soundfont] if soundfont else find_soundfonts()
        self.soundfont = fonts[0] if fonts else None
        made = []
        if backend != "simple":
            try:
                if self.soundfont is None:
                    raise OSError("no soundfont found")
                made = [FluidSynthVoice(self.soundfont.path, sample_rate_hz) for _ in range(voices)]
            except (ImportError, OSError) as exc:
                if backend == "fluidsynth":
                    raise
                self.fallback_reason = str(exc)
                log.warning("FluidSynth unavailable (%s): using the built-in synth", exc)
        for voice in made or [SimpleSynth(sample_rate_hz)] * voices:
            self._pool.put(voice)
        self.backend = made[0].name if made else SimpleSynth.name

    def describe(self):
        """One line for the page: which synth and soundfont play."""
        if self.fallback_reason:
            return f"{self.backend} (FluidSynth unavailable: {self.fallback_reason})"
        return f"{self.backend} with {self.soundfont.label}"

    def render_audio(self, midi, max_seconds=None):
        """Mono float32 samples of a ``PrettyMIDI``: its notes plus a one-second release, at most
        ``max_seconds`` long (notes after that are left out)."""
        events = note_events(midi)
        if max_seconds is not None:
            events = [(p, s, min(e, max_seconds), v, c, g) for p, s, e, v, c, g in events if s < max_seconds]
        end = max((e[2] for e in events), default=0.0)
        frames = int(round((end + TAIL_SECONDS) * self.sample_rate_hz))
        blocks = -(-frames // BLOCK_FRAMES) * BLOCK_FRAMES
        voice = self._pool.get()
        try:
            audio = voice.render(events, blocks)[:frames]
        finally:
            self._pool.put(voice)
        fade = min(len(audio), int(0.05 * self.sample_rate_hz))
        if fade:
            audio[-fade:] *= np.linspace(1.0, 0.0, fade, dtype=np.float32)
        peak = float(np.abs(audio).max(initial=0.0))
        return audio * (0.99 / peak) if peak > 0.99 else audio

    def close(self):
        while not self._pool.empty():
            self._pool.get().close()


def encode_audio(samples, sample_rate_hz, path):
    """Write mono samples as OGG Vorbis (``.ogg``), MP3, FLAC or WAV, chosen by the file's suffix."""
    import soundfile

    formats = {".ogg": ("OGG", "VORBIS"), ".mp3": ("MP3", "MPEG_LAYER_III"), ".flac": ("FLAC", "PCM_16"),
               ".wav": ("WAV", "PCM_16")}
    kind, subtype = formats[Path(path).suffix.lower()]
    data = np.clip(np.asarray(samples, np.float32), -1.0, 1.0)
    with soundfile.SoundFile(str(path), "w", int(sample_rate_hz), 1, subtype, format=kind) as out:
        # libvorbis can overflow its stack when given a minute of audio in one call: write in chunks.
        for i in range(0, len(data), 1 << 15):
            out.write(data[i : i + (1 << 15)])
    return Path(path)
