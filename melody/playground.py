"""What the playground page does, without the page: seeds from a grid, text or a MIDI file;
generation with audio, piano roll and MIDI files; per-session seed history. ``app.py`` wires
these to Gradio components; the HTTP API and the tests call them too."""
import random
import shutil
import tempfile
import threading
import time
from dataclasses import dataclass, field, replace
from pathlib import Path

import pretty_midi

from . import plots
from .checkpoint import list_checkpoints, load_model, newest_checkpoint
from .encoding import encode_midi, melody_from_pitches
from .errors import MelodyError, SeedError
from .midi_io import note_span, notes_to_midi
from .notes import HIGHEST_PITCH, LOWEST_PITCH, format_notes, parse_notes
from .originality import ORDER, longest_shared_run
from .render import AudioMix, Mp3Writer, Renderer, encode_audio, find_soundfonts
from .sandbox import call_limited
from .sampling import generate

MAX_LENGTH_NOTES = 512
MAX_VARIATIONS = 4
MAX_SEED_NOTES = 1024
MAX_AUDIO_SECONDS = 600
UPLOAD_READ_SECONDS = 20.0
UPLOAD_READ_BYTES = 1 << 30
NOTE_BEATS = 0.5  # every note is an eighth note
FILE_LIFETIME_SECONDS = 3600
MAX_UNDO = 50
DEFAULT_SEED_NOTES = "E4 E4 F4 G4 G4 F4 E4 D4 C4 C4 D4 E4 E4 D4 D4"  # Ode to Joy, public domain


def instrument_name(program):
    """General MIDI name of a program number, e.g. ``0 -> 'Acoustic Grand Piano'``."""
    return pretty_midi.program_to_instrument_name(int(program))


@dataclass(frozen=True)
class Seed:
    """A seed as the model sees it (``pitches`` in C major / A minor, MIDI 54..90), with the
    shift that took it there and where it came from."""

    pitches: tuple
    key_shift: int = 0
    key: str = "C major"
    tempo_bpm: float = 120.0
    source: str = "typed notes"

    def original_pitches(self):
        """The seed in its own key."""
        return [p - self.key_shift for p in self.pitches]

    def describe(self):
        shift = f", played by the model {self.key_shift:+d} semitones in C" if self.key_shift else ""
        return f"{len(self.pitches)} notes from {self.source} ({self.key}{shift}): {format_notes(self.original_pitches())}"


@dataclass(frozen=True)
class Settings:
    """Everything a Generate click decides, with the page's defaults."""

    length: int = 64
    temperature: float = 1.0
    beta: float = None
    top_k: int = None
    top_p: float = None
    rng_seed: int = None
    tempo_bpm: float = 120.0
    program: int = 0
    original_key: bool = True
    variations: int = 1
    show_probabilities: bool = True
    memory: float = 0.5
    histogram: bool = True

    def checked(self):
        """These settings, or a ``SeedError`` saying which one is out of range."""
        if not 1 <= int(self.length) <= MAX_LENGTH_NOTES:
            raise SeedError(f"Length must be from 1 to {MAX_LENGTH_NOTES} notes, got {self.length}.")
        if not 1 <= int(self.variations) <= MAX_VARIATIONS:
            raise SeedError(f"Variations must be from 1 to {MAX_VARIATIONS}, got {self.variations}.")
        if not 20 <= float(self.tempo_bpm) <= 400:
            raise SeedError(f"Tempo must be from 20 to 400 BPM, got {self.tempo_bpm}.")
        if not 0 <= float(self.memory) <= 1:
            raise SeedError(f"Song memory must be from 0 to 1, got {self.memory}.")
        if not 0 <= int(self.program) <= 127:
            raise SeedError(f"Instrument must be a General MIDI program from 0 to 127, got {self.program}.")
        rng = int(self.rng_seed) if self.rng_seed is not None else random.randrange(2**31)
        return replace(self, length=int(self.length), variations=int(self.variations), program=int(self.program),
                       rng_seed=rng, top_k=int(self.top_k) if self.top_k else None,
                       top_p=float(self.top_p) if self.top_p and self.top_p < 1 else None)


@dataclass
class Variation:
    pitches: list  # as played (in the seed's key when asked)
    model_pitches: list  # in the model's key, to continue from
    audio_path: Path
    roll_path: Path
    midi_path: Path
    histogram_path: Path
    shared_run: tuple = (0, None)  # longest run of notes shared with a training song, and which song


@dataclass
class Result:
    seed: Seed
    settings: Settings
    variations: list = field(default_factory=list)
    summary: str = ""
    seconds: float = 0.0


def seed_from_notes(text, source="typed notes"):
    """A seed from note names or MIDI numbers (``"C4 D4 E4"``, ``"60 62 64"``)."""
    pitches = parse_notes(text)
    if not pitches:
        raise SeedError("The seed is empty: type notes such as C4 D4 E4 G4, or 60 62 64 67.")
    return seed_from_pitches(pitches, source)


def seed_from_pitches(pitches, source="the grid"):
    """A seed from MIDI pitches: key estimated, shifted to C, folded into MIDI 54..90."""
    if len(pitches) > MAX_SEED_NOTES:
        raise SeedError(f"A seed may have at most {MAX_SEED_NOTES} notes, got {len(pitches)}.")
    melody = melody_from_pitches(list(pitches), source=source)
    return Seed(tuple(melody.pitches), melody.key_shift, melody.key, 120.0, source)


def seed_from_grid(value):
    """A seed from the drawing grid's value: one MIDI pitch or None per step (empty steps skipped;
    anything else the browser might send is ignored)."""
    items = value if isinstance(value, (list, tuple)) else []
    pitches = [int(p) for p in items if isinstance(p, (int, float)) and not isinstance(p, bool)
               and LOWEST_PITCH <= p <= HIGHEST_PITCH]
    if not pitches:
        raise SeedError("The grid is empty: click or drag on it to draw a few notes.")
    return seed_from_pitches(pitches, "the grid")


def seed_from_midi(path, start=0, count=64):
    """A seed from notes ``start .. start+count`` of a MIDI file's melody, and the whole ``Melody``.
    The file is read in a separate process with time and memory limits: it may be hostile."""
    melody = call_limited(encode_midi, path, seconds=UPLOAD_READ_SECONDS, memory_bytes=UPLOAD_READ_BYTES)
    start, count = int(start or 0), int(count or 64)
    if not 0 <= start < len(melody):
        raise SeedError(f"Start note {start} is past the end: this melody has {len(melody)} notes (0 to {len(melody) - 1}).")
    if not 1 <= count <= MAX_SEED_NOTES:
        raise SeedError(f"Use 1 to {MAX_SEED_NOTES} notes of the file as the seed, got {count}.")
    pitches = melody.pitches[start : start + count]
    seed = Seed(tuple(pitches), melody.key_shift, melody.key, melody.tempo_bpm, f"{melody.source} (notes {start}-{start + len(pitches) - 1})")
    return seed, melody


def continue_from(seed, continuation):
    """The seed for a Continue click: the old seed followed by a result (the last notes if too long)."""
    pitches = (tuple(seed.pitches) + tuple(continuation))[-MAX_SEED_NOTES:]
    return replace(seed, pitches=pitches, source="a continued result")


def new_session(seed):
    """A browser session's state: the current seed, the seeds before it (for Undo) and the last results."""
    return {"seed": seed, "history": [], "results": []}


def with_seed(session, seed, live=False):
    """The session with a new current seed; the old one goes on the Undo stack, unless ``live``
    edits (drawing, typing) replace a seed from the same place, so Undo skips every keystroke."""
    if live and session["seed"].source == seed.source:
        return dict(session, seed=seed)
    history = (session["history"] + [session["seed"]])[-MAX_UNDO:]
    return dict(session, seed=seed, history=history)


def undo_seed(session):
    """The session with its previous seed back; raises ``SeedError`` when there is none."""
    if not session["history"]:
        raise SeedError("Nothing to undo: this is the first seed of this session.")
    return dict(session, seed=session["history"][-1], history=session["history"][:-1])


def checkpoint_label(name, info):
    """``name — what it was trained on, its bits per note on unseen songs``, for the checkpoint selector."""
    data, metrics = info.get("data", {}), info.get("metrics", {})
    source = Path(str(data.get("source", "?"))).name or str(data.get("source"))
    figure = metrics.get("test_bits_per_note", metrics.get("val_bits_per_note"))
    bits = f", {figure:.2f} bits/note on unseen songs" if figure is not None else ""
    return f"{name} — {data.get('files', '?')} songs from {source}{bits} ({info.get('created', '')[:10]})"


class Playground:
    """Shared, read-only resources of a running playground: loaded models and synthesizers
    (each loaded once, on first use) and a folder of result files that is cleaned as it ages.
    Per-user state (seed, history) lives with the caller, never here."""

    def __init__(self, checkpoint_dir=None, output_dir=None, voices=2):
        self.checkpoint_dir = checkpoint_dir
        self.voices = voices
        self.output_dir = Path(output_dir or tempfile.mkdtemp(prefix="melody-playground-"))
        self.output_dir.mkdir(parents=True, exist_ok=True)
        self.soundfonts = find_soundfonts()
        self._models, self._renderers = {}, {}
        self._lock = threading.Lock()

    def checkpoints(self):
        return list_checkpoints(self.checkpoint_dir)

    def checkpoint_choices(self):
        """``(label, file name)`` of every checkpoint, for a selector; a broken file is listed with its problem."""
        choices = []
        for path in self.checkpoints():
            try:
                choices.append((checkpoint_label(path.name, self.model(path.name).info), path.name))
            except MelodyError as exc:
                choices.append((f"{path.name} — unreadable: {exc}", path.name))
        return choices

    def default_checkpoint(self):
        return newest_checkpoint(self.checkpoint_dir)

    def model(self, name=None):
        """The model of checkpoint ``name`` (a file name from ``checkpoints()``, never a path), or the newest."""
        if name:
            known = {p.name: p for p in self.checkpoints()}
            if Path(str(name)).name not in known:
                raise SeedError(f"Unknown checkpoint '{name}': choose one from the list.")
            path = known[Path(str(name)).name]
        else:
            path = self.default_checkpoint()
        with self._lock:  # one model per file, reloaded when the file changes (a training run rewrites it)
            stamp = path.stat().st_mtime if path.exists() else None
            cached = self._models.get(path)
            if cached is None or cached[0] != stamp:
                cached = self._models[path] = (stamp, load_model(path))
            return cached[1]

    def renderer(self, index=0):
        """The synthesizer for soundfont ``index`` of ``self.soundfonts`` (index, never a path, from users)."""
        index = int(index or 0)
        if self.soundfonts and not 0 <= index < len(self.soundfonts):
            raise SeedError(f"Unknown soundfont {index}: choose one from the list.")
        with self._lock:
            if index not in self._renderers:
                font = self.soundfonts[index] if self.soundfonts else None
                self._renderers[index] = Renderer(font, voices=self.voices)
            return self._renderers[index]

    def warm_up(self):
        """Load the default model and render every pitch at the default tempo and instrument, so
        that the first Generate is as quick as the next ones (run it in the background)."""
        model = self.model()
        pitches = range(model.encoding.lowest_pitch - 6, model.encoding.highest_pitch + 7)
        self.renderer(0).render_audio(notes_to_midi(list(pitches), tempo=Settings.tempo_bpm, note_beats=NOTE_BEATS))

    def clean_old_files(self, max_age_seconds=FILE_LIFETIME_SECONDS):
        cutoff = time.time() - max_age_seconds
        for entry in self.output_dir.iterdir():
            try:
                if entry.stat().st_mtime < cutoff:
                    shutil.rmtree(entry, ignore_errors=True)
            except OSError:
                pass

    def _folder(self, prefix):
        self.clean_old_files()
        return Path(tempfile.mkdtemp(dir=self.output_dir, prefix=prefix))

    def seed_preview(self, seed):
        """PNG of the seed's piano roll, in its own key."""
        pitches = seed.original_pitches()
        low = min([LOWEST_PITCH - seed.key_shift, *pitches])
        high = max([HIGHEST_PITCH - seed.key_shift, *pitches])
        figure = plots.piano_roll_figure(pitches, [], low=low, high=high)
        return plots.save_png(figure, self._folder("seed-") / "seed.png")

    def seed_audio(self, seed, tempo_bpm=120.0, program=0, soundfont=0):
        """MP3 file of the seed alone, in its own key."""
        midi = notes_to_midi(seed.original_pitches(), tempo=tempo_bpm, program=program, note_beats=NOTE_BEATS)
        renderer = self.renderer(soundfont)
        audio = renderer.render_audio(midi, max_seconds=MAX_AUDIO_SECONDS)
        return encode_audio(audio, renderer.sample_rate_hz, self._folder("seed-") / "seed.mp3")

    def generate(self, seed, settings=Settings(), checkpoint=None, soundfont=0):
        """Continue ``seed``: for every variation an MP3 file, a piano-roll PNG, a MIDI file (seed
        then continuation) and, when ``settings.histogram``, a pitch-class histogram PNG; plus a
        one-paragraph summary. The audio is mixed as the notes are generated and encoded by a
        second thread, beside the generation and the pictures."""
        started = time.perf_counter()
        settings = settings.checked()
        if not seed.pitches:
            raise SeedError("The seed is empty: draw, type or upload a few notes first.")
        model = self.model(checkpoint)
        renderer = self.renderer(soundfont)
        shift = seed.key_shift if settings.original_key else 0
        seed_out = [p - shift for p in seed.pitches]
        folder = self._folder(f"result-{settings.rng_seed}-")
        stems = [folder / f"melody-{settings.rng_seed}-v{n}" for n in range(1, settings.variations + 1)]
        writers = [Mp3Writer(stem.with_suffix(".mp3"), renderer.sample_rate_hz) for stem in stems]
        mixes = [AudioMix(renderer, writer.write, MAX_AUDIO_SECONDS) for writer in writers]

        def play(mix, index, pitch):
            mix.add(pitch, *note_span(index, settings.tempo_bpm, NOTE_BEATS), velocity=96, program=settings.program)

        result = Result(seed, settings)
        try:
            for mix in mixes:
                for index, pitch in enumerate(seed_out):
                    play(mix, index, pitch)
            runs, probs = generate(
                model, list(seed.pitches), settings.length, temperature=settings.temperature, beta=settings.beta,
                top_k=settings.top_k, top_p=settings.top_p, rng_seed=settings.rng_seed,
                num_variations=settings.variations, return_probs=True, memory=float(settings.memory),
                on_step=lambda step, pitches: [play(m, len(seed_out) + step, p - shift) for m, p in zip(mixes, pitches)])
            for mix in mixes:
                mix.close()
            low, high = model.encoding.lowest_pitch - shift, model.encoding.highest_pitch - shift
            for number, (continuation, stem) in enumerate(zip(runs, stems)):  # while the encoders finish
                out = [p - shift for p in continuation]
                notes_to_midi(seed_out + out, tempo=settings.tempo_bpm, program=settings.program,
                              note_beats=NOTE_BEATS).write(str(stem.with_suffix(".mid")))
                variation = Variation(out, continuation, stem.with_suffix(".mp3"), stem.with_suffix(".png"),
                                      stem.with_suffix(".mid"), None, originality_of(model, continuation))
                shade = probs[number] if settings.show_probabilities else None
                plots.save_piano_roll(variation.roll_path, seed_out, out, shade, low=low, high=high)
                if settings.histogram:
                    variation.histogram_path = stem.with_name(stem.name + "-pitch-classes.png")
                    plots.save_png(plots.pitch_class_figure(seed_out, out), variation.histogram_path)
                result.variations.append(variation)
        finally:
            for writer in writers:  # always stop the encoder threads, also after an error
                writer.close()
        result.seconds = time.perf_counter() - started
        result.summary = summarize(result, model, renderer)
        return result


def originality_of(model, continuation):
    """Longest run of the continuation shared with a training song: ``(notes, song)``; ``(None, None)``
    for a checkpoint without an index."""
    index = model.info.get("originality")
    if not index:
        return None, None
    return longest_shared_run(index, [p - model.encoding.lowest_pitch for p in continuation])


def describe_originality(shared):
    length, song = shared
    if length is None:
        return "originality: this checkpoint has no index of its training songs"
    if not length:
        return f"shares no run of {ORDER} or more notes with any training song"
    return f"longest run shared with a training song: {length} notes ({song})"


def summarize(result, model, renderer):
    s = result.settings
    rule = f"beta {s.beta:g}" if s.beta else f"temperature {s.temperature:g}"
    rule += f", song memory {float(s.memory):g}"
    cut = "".join([f", top-k {s.top_k}" if s.top_k else "", f", top-p {s.top_p:g}" if s.top_p else ""])
    key = result.seed.key if s.original_key else "C major / A minor (the model's key)"
    lines = [f"{len(result.variations)} variation(s) of {s.length} notes after a {len(result.seed.pitches)}-note seed "
             f"from {result.seed.source}; {rule}{cut}; random seed {s.rng_seed}; key {key}; "
             f"{s.tempo_bpm:g} BPM, {instrument_name(s.program)}; "
             f"model {model.path.name}; sound: {renderer.describe()}; {result.seconds:.2f} s."]
    for number, v in enumerate(result.variations, start=1):
        lines.append(f"Variation {number}: {format_notes(v.pitches[:16])}{' ...' if len(v.pitches) > 16 else ''}; "
                     f"{describe_originality(v.shared_run)}")
    return "\n".join(lines)

