"""Audio: a melody rendered by FluidSynth with a soundfont loaded once and reused, or, when the
FluidSynth library or a soundfont is missing, by a simple built-in synth.

Every note is rendered on its own by the synthesizer (note on, note off, its release and reverb
tail) and kept in a bounded cache; a melody is the sum of its notes at their start times. A
synthesizer's voices and its reverb add up linearly, so the sum sounds as a continuous
performance would, while a melody of a few hundred notes mixes in milliseconds once its notes
are cached (a melody repeats a few dozen distinct notes).
"""
import ctypes
import logging
import os
import queue
import threading
import wave
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pretty_midi

log = logging.getLogger(__name__)

SAMPLE_RATE_HZ = 22050  # ample for melodies; half the cost of 44.1 kHz
DAW_RATE_HZ = 44100  # the WAV downloads: CD rate, stereo, as a DAW takes them without converting
TAIL_SECONDS = 1.0  # the audio runs this long after the last note ends
MAX_RING_SECONDS = 4.0  # a note's release and reverb are cut here at the latest
SILENCE = 1e-4  # a note's tail ends where it stays below this level
CACHED_NOTES = 600  # at most about 100 MB of note waveforms
BLOCK_FRAMES = 64  # FluidSynth works in blocks of 64 frames
TAIL_CHUNK_FRAMES = 16 * BLOCK_FRAMES  # a note's tail is rendered this much at a time, until it is silent
MP3_KBPS = 48
PROJECT_SOUNDFONTS = Path(__file__).resolve().parents[2] / "soundfonts"
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
    candidates.append(Soundfont("TimGM6mb.sf2 (pretty_midi)",
                                os.path.join(os.path.dirname(pretty_midi.__file__), "TimGM6mb.sf2")))
    found, seen = [], set()
    for font in candidates:
        real = os.path.realpath(font.path)
        if os.path.isfile(real) and real not in seen:
            seen.add(real)
            found.append(font)
    return found


def note_events(midi):
    """``(pitch, start_s, end_s, velocity, program)`` of every non-drum note, sorted by start."""
    events = []
    for instrument in midi.instruments:
        if not instrument.is_drum:
            events += [(n.pitch, n.start, n.end, n.velocity, instrument.program) for n in instrument.notes]
    return sorted(events, key=lambda e: e[1])


def _trim_tail(audio, held_frames):
    """Cut a note's waveform where its tail has died away."""
    loud = np.flatnonzero(np.abs(audio[held_frames:]) > SILENCE)
    return audio[: held_frames + (loud[-1] + 1 if len(loud) else 0)]


class FluidSynthVoice:
    """One FluidSynth synthesizer with one soundfont, rendering single notes into float32 without
    an audio driver."""

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
        # and a short render applies both, so that no note hears the one before.
        self.synth.system_reset()
        self.synth.all_sounds_off(-1)
        if self._set_rate is not None:
            self._set_rate(self.synth.synth, float(self.sample_rate_hz))
        self._write(np.zeros(8 * BLOCK_FRAMES, np.float32), 0, 4 * BLOCK_FRAMES)

    def render_note(self, pitch, velocity, program, held_frames):
        """Mono waveform of one note held ``held_frames`` frames, with its release and reverb tail.
        The tail is rendered a chunk at a time and stops at the first silent chunk: tails die within
        about a second, and rendering all of ``MAX_RING_SECONDS`` made a new note cost 4 times as much."""
        held = -(-held_frames // BLOCK_FRAMES) * BLOCK_FRAMES
        total = held + int(MAX_RING_SECONDS * self.sample_rate_hz) // BLOCK_FRAMES * BLOCK_FRAMES
        buffer = np.zeros(2 * total, np.float32)
        try:
            self.synth.program_select(0, self.sfid, 0, program)
            self.synth.noteon(0, pitch, velocity)
            self._write(buffer, 0, held)
            self.synth.noteoff(0, pitch)
            start = held
            while start < total:
                stop = min(total, start + TAIL_CHUNK_FRAMES)
                self._write(buffer, start, stop)
                silent = np.abs(buffer[2 * start : 2 * stop]).max() < SILENCE
                start = stop
                if silent:
                    break
        finally:
            self._reset()
        return _trim_tail(buffer[: 2 * start].reshape(-1, 2).mean(axis=1), held_frames)

    def close(self):
        self.synth.delete()


class SimpleSynth:
    """A few decaying harmonics per note: no soundfont, no library, always available."""

    name = "built-in synth"
    HARMONICS = np.array([1.0, 0.5, 0.25, 0.12, 0.06])

    def __init__(self, sample_rate_hz):
        self.sample_rate_hz = sample_rate_hz

    def render_note(self, pitch, velocity, program, held_frames):
        rate = self.sample_rate_hz
        t = np.arange(held_frames + int(0.15 * rate)) / rate
        f0 = 440.0 * 2 ** ((pitch - 69) / 12)
        k = np.arange(1, len(self.HARMONICS) + 1)
        wave = np.sin(2 * np.pi * f0 * np.outer(t, k)) @ np.where(k * f0 < rate / 2, self.HARMONICS, 0.0)
        envelope = np.minimum(t / 0.005, 1.0) * np.exp(-1.5 * t)
        released = t > held_frames / rate
        envelope[released] *= np.exp(-(t[released] - held_frames / rate) / 0.03)
        return (0.1 * velocity / 127 * envelope * wave).astype(np.float32)

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
        many requests can render new notes at once.
    backend : "auto", "fluidsynth" or "simple"
        "auto" falls back to the built-in synth when FluidSynth cannot start; "fluidsynth" raises.
    """

    def __init__(self, soundfont=None, voices=2, backend="auto", sample_rate_hz=SAMPLE_RATE_HZ):
        self.sample_rate_hz = sample_rate_hz
        self.fallback_reason = None
        self._pool = queue.Queue()
        self._notes = OrderedDict()  # (pitch, velocity, program, held frames) -> waveform, least recent first
        self._lock = threading.Lock()
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

    def note(self, pitch, velocity, program, held_frames):
        """The waveform of one note, from the cache or rendered now."""
        key = (int(pitch), int(velocity), int(program), int(held_frames))
        with self._lock:
            if key in self._notes:
                self._notes.move_to_end(key)
                return self._notes[key]
        voice = self._pool.get()
        try:
            wave = voice.render_note(*key)
        finally:
            self._pool.put(voice)
        with self._lock:
            self._notes[key] = wave
            while len(self._notes) > CACHED_NOTES:
                self._notes.popitem(last=False)
        return wave

    def render_audio(self, midi, max_seconds=None):
        """Mono float32 samples of a ``PrettyMIDI``: its notes plus ``TAIL_SECONDS``, at most
        ``max_seconds`` of notes (later ones are left out, held ones cut there)."""
        pieces = []
        mix = AudioMix(self, pieces.append, max_seconds)
        for pitch, start, stop, velocity, program in note_events(midi):
            mix.add(pitch, start, stop, velocity, program)
        mix.close()
        return np.concatenate(pieces)

    def close(self):
        while not self._pool.empty():
            self._pool.get().close()


class AudioMix:
    """Audio built note by note, in order of start time. Whatever no later note can reach any
    more is handed to ``sink`` at once, so that an encoder works while notes are still coming.
    Pieces of a few seconds: each hand-over wakes the encoder's thread, whose every return to Python
    takes the interpreter from the thread sampling and drawing (1-second pieces cost 20-25 ms more
    per 256-note Generate, ``bench/latency.py``)."""

    def __init__(self, renderer, sink, max_seconds=None, piece_seconds=4.0):
        self.renderer, self.sink, self.max_seconds = renderer, sink, max_seconds
        self.rate = renderer.sample_rate_hz
        self.piece = int(piece_seconds * self.rate)
        self.audio = np.zeros(0, np.float32)  # samples from ``self.base`` on; those before ``self.handed`` are out
        self.base = self.handed = 0
        self.end_seconds = 0.0

    def add(self, pitch, start, stop, velocity=96, program=0):
        """Mix in one note (seconds); notes must come in order of start time."""
        if self.max_seconds is not None:
            if start >= self.max_seconds:
                return
            stop = min(stop, self.max_seconds)
        first = int(round(start * self.rate))
        wave = self.renderer.note(pitch, velocity, program, max(1, int(round((stop - start) * self.rate))))
        self._reserve(first + len(wave))
        self.audio[first - self.base : first - self.base + len(wave)] += wave
        self.end_seconds = max(self.end_seconds, stop)
        if first - self.handed >= self.piece:  # nothing earlier than this note's start can change any more
            self._hand(first)

    def close(self):
        """Add the final ``TAIL_SECONDS``, fade out and hand over the rest."""
        rest = int(round((self.end_seconds + TAIL_SECONDS) * self.rate))
        self._reserve(rest)
        fade = min(rest - self.handed, int(0.05 * self.rate))  # de-click the cut release
        self.audio[rest - fade - self.base : rest - self.base] *= np.linspace(1.0, 0.0, fade, dtype=np.float32)
        self._hand(rest)

    def _reserve(self, stop):
        """Room up to sample ``stop``; growing drops what was handed over (no copy per piece)."""
        if stop - self.base > len(self.audio):
            kept = self.audio[self.handed - self.base :]
            grown = np.zeros(max(stop - self.handed, 2 * len(kept)), np.float32)
            grown[: len(kept)] = kept
            self.audio, self.base = grown, self.handed

    def _hand(self, stop):
        """Hand the samples up to ``stop`` to the sink."""
        self.sink(np.clip(self.audio[self.handed - self.base : stop - self.base], -1.0, 1.0))
        self.handed = stop


class Mp3Writer:
    """An MP3 file (LAME, 48 kbit/s mono) written piece by piece by a background thread (LAME works
    outside the GIL, so encoding overlaps whatever the caller does meanwhile), and with
    ``wav_path`` the same audio as a 44.1 kHz stereo 16-bit WAV (:func:`write_daw_wav`), written by
    the caller's thread as soon as the last piece is in (:meth:`finish_wav`), while the MP3 is still encoding."""

    def __init__(self, path, sample_rate_hz, wav_path=None):
        import lameenc

        self.path, self.wav_path = Path(path), wav_path and Path(wav_path)
        self.sample_rate_hz = int(sample_rate_hz)
        self.encoder = lameenc.Encoder()
        self.encoder.set_bit_rate(MP3_KBPS)
        self.encoder.set_in_sample_rate(self.sample_rate_hz)
        self.encoder.set_channels(1)
        self.encoder.set_quality(7)  # LAME's fast setting: ample for a preview, twice as fast as the default
        self._pieces = queue.Queue()
        self._error = None
        self._wav = None if self.wav_path is None else []  # the pieces, written as one WAV by finish_wav
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self):
        try:
            with open(self.path, "wb") as out:
                encoded = False
                while (frames := self._pieces.get()) is not None:
                    out.write(self.encoder.encode(frames))
                    encoded = True
                if encoded:  # LAME refuses to flush what never started (a request that failed first)
                    out.write(self.encoder.flush())
        except BaseException as exc:  # re-raised by close()
            self._error = exc

    def write(self, piece):
        """Add mono samples (floats in -1..1)."""
        piece = np.asarray(piece, np.float32)
        if self._wav is not None:
            self._wav.append(piece)
        self._pieces.put((piece * 32767).astype("<i2").tobytes())

    def finish_wav(self):
        """Write the WAV file now (44.1 kHz stereo, see :func:`write_daw_wav`); the MP3 goes on."""
        if self._wav is not None:
            pieces, self._wav = self._wav, None
            write_daw_wav(np.concatenate(pieces) if pieces else np.zeros(0, np.float32), self.sample_rate_hz,
                          self.wav_path)

    def close(self):
        """Wait until everything is written; returns the path."""
        self.finish_wav()
        self._pieces.put(None)
        self._thread.join()
        if self._error is not None:
            raise self._error
        return self.path


def write_daw_wav(samples, sample_rate_hz, path):
    """Mono samples as a 16-bit WAV a DAW takes as it is: resampled to 44.1 kHz (scipy's polyphase
    filter) and the same in both channels."""
    from math import gcd

    from scipy.signal import resample_poly

    data = np.asarray(samples, np.float64)
    rate = int(sample_rate_hz)
    if rate != DAW_RATE_HZ and len(data):
        common = gcd(DAW_RATE_HZ, rate)
        data = resample_poly(data, DAW_RATE_HZ // common, rate // common)
    return _write_wav(np.repeat(np.clip(data, -1.0, 1.0), 2), DAW_RATE_HZ, path, channels=2)  # left, right, ...


def _write_wav(samples, sample_rate_hz, path, channels=1):
    """Samples (floats in -1..1, channels interleaved) as a 16-bit WAV file."""
    with wave.open(str(path), "wb") as out:
        out.setnchannels(channels)
        out.setsampwidth(2)
        out.setframerate(int(sample_rate_hz))
        out.writeframes((np.asarray(samples) * 32767).astype("<i2").tobytes())
    return Path(path)


def encode_audio(samples, sample_rate_hz, path):
    """Write mono samples (floats in -1..1) as MP3 (``.mp3``: LAME at 48 kbit/s, see ``bench/mp3.py``
    for why LAME through lameenc) or 16-bit WAV (``.wav``), chosen by the file's suffix."""
    path = Path(path)
    data = np.clip(np.asarray(samples, np.float32), -1.0, 1.0)
    suffix = path.suffix.lower()
    if suffix == ".mp3":
        writer = Mp3Writer(path, sample_rate_hz)
        writer.write(data)
        return writer.close()
    if suffix != ".wav":
        raise ValueError(f"audio can be written as .mp3 or .wav, not {suffix!r}")
    return _write_wav(data, sample_rate_hz, path)
