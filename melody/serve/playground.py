"""What the playground page does, without the page: generation with audio, piano roll and MIDI
files, seed previews, and the HTTP API's request. ``app.py`` wires these to Gradio components; the
HTTP API, the tests and the benchmarks call them too. Seeds and the session's Undo history are in
``melody.serve.seed_sources``, the settings' ranges in ``melody.settings``."""
import shutil
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pretty_midi

from ..errors import MelodyError, SeedError
from ..generation.continuation import seed_melody
from ..generation.originality import longest_shared_run
from ..generation.regenerate import bar_range
from ..generation.rules import SamplingRule
from ..generation.sampling import continuation_of, generate, sample_steps
from ..generation.steering import Steering, in_model_key, looped_once_more
from ..model.checkpoint import default_checkpoint, list_checkpoints, load_model
from ..music.encoding import timed_items
from ..music.midi_io import melody_to_midi, step_seconds
from ..music.notes import format_notes, format_timed_notes
from ..settings import LIMITS, Settings, flag, number
from . import plots, regenerating
from .export import bar_start, export_continuation_midi, export_midi, output_shift
from .render import AudioMix, Mp3Writer, Renderer, encode_audio, find_soundfonts
from .seed_sources import (  # noqa: F401  (re-exported: the page and older scripts use them from here)
    DEFAULT_SEED_NOTES,
    MAX_SEED_NOTES,
    continue_from,
    grid_columns,
    grid_end,
    grid_notes,
    grid_pins,
    grid_value,
    new_session,
    seed_from_grid,
    seed_from_midi,
    seed_from_notes,
    seed_from_pitches,
    seed_part,
    undo_seed,
    usable_seed,
    with_problem,
    with_seed,
)
from .storage import DISK_FULL, Storage, StorageFull, disk_full, filled
from .uploads import UploadReader

MAX_VARIATIONS = LIMITS["variations"].high
MAX_AUDIO_SECONDS = 600
NOTE_SAMPLE_SECONDS = 0.9  # each of the grid's note samples


def instrument_name(program):
    """General MIDI name of a program number, e.g. ``0 -> 'Acoustic Grand Piano'``."""
    return pretty_midi.program_to_instrument_name(int(program))


@dataclass
class Variation:
    notes: list  # as played: (onset_step, duration_steps, pitch), in the seed's key when asked
    continuation: object  # the Melody in the model's key, to continue from
    audio_path: Path
    roll_path: Path
    midi_path: Path
    histogram_path: Path
    shared_run: tuple = (0, None, None)  # longest run of notes shared with a training song, which song, window
    wav_path: Path = None  # the same audio as WAV
    timeline: dict = None  # where time runs in the piano roll's picture: left, right (fractions), seconds;
    # and the seconds where the seed and the continuation end in the audio (seed_end, end)
    continuation_midi_path: Path = None  # the continuation alone


@dataclass
class Result:
    seed: object  # the Melody continued
    settings: Settings
    variations: list = field(default_factory=list)
    summary: str = ""
    seconds: float = 0.0


def checkpoint_label(name, info):
    """``name — what it was trained on, its bits per note on unseen songs``, for the checkpoint selector."""
    data, metrics = info.get("data", {}), info.get("metrics", {})
    source = Path(str(data.get("source", "?"))).name or str(data.get("source"))
    figure = metrics.get("test_bits_per_note", metrics.get("val_bits_per_note"))
    bits = f", {figure:.2f} bits/note on unseen songs" if figure is not None else ""
    return f"{name} — {data.get('files', '?')} songs from {source}{bits} ({info.get('created', '')[:10]})"


class Playground:
    """Shared, read-only resources of a running playground: loaded models and synthesizers (each
    loaded once, on first use), the reader of uploads and the folder of result files. Per-user
    state (seed, history) lives with the caller, never here.

    Parameters
    ----------
    checkpoint_dir : path, optional
        Where checkpoints are listed from (default ``checkpoints/``).
    output_dir : path, optional
        Where result files go (a ``melody-playground/<pid>-...`` folder is made inside it); default
        the system's temporary folder. Ignored when ``storage`` is given.
    voices : int
        Generations at once: synthesizers kept ready, and the number of generation slots.
    storage : Storage, optional
        The server's bounded file storage (``app.py`` passes the one Gradio also uses).
    isolated : bool
        Generate (and render seeds) in ``voices`` worker processes (``melody.serve.workers``), so that a
        crash in native code costs one request, not the process; the server does this.
    storage_root : path, optional
        An existing storage folder to write into (a worker's view of the server's; see ``Storage``).
    """

    def __init__(self, checkpoint_dir=None, output_dir=None, voices=2, storage=None, isolated=False,
                 storage_root=None):
        self.checkpoint_dir = checkpoint_dir
        self.voices = voices
        self.storage = storage or Storage(base=output_dir, root=storage_root)
        self.output_dir = self.storage.results
        self.soundfonts = find_soundfonts()
        self.uploads = UploadReader()
        self._models, self._renderers = {}, {}
        self._lock = threading.Lock()
        # Generation and rendering take these; reading uploads does not (see melody.serve.uploads).
        self._slots = threading.BoundedSemaphore(max(1, int(voices)))
        self.workers = None
        if isolated:
            from .workers import Workers

            self.workers = Workers(voices, f"{__name__}:Playground", dict(
                checkpoint_dir=None if checkpoint_dir is None else str(checkpoint_dir), voices=1,
                storage_root=str(self.storage.root)))

    def close(self):
        """Stop the workers and the upload reader (the server is stopping)."""
        if self.workers is not None:
            self.workers.close()
        self.uploads.close()

    def checkpoints(self):
        return list_checkpoints(self.checkpoint_dir)

    def checkpoint_choices(self):
        """``(label, file name)`` of every checkpoint, for a selector; a broken file is listed with its problem."""
        choices = []
        for path in self.checkpoints():
            try:
                choices.append((checkpoint_label(path.name, self.model(path.name).info), path.name))
            except MelodyError as exc:
                choices.append((f"{path.name} — unreadable: {str(exc)[:120]}", path.name))
        return choices

    def default_checkpoint(self):
        """The checkpoint used when none is chosen (the newest finished one that loads)."""
        return default_checkpoint(self.checkpoint_dir)[0]

    def checkpoint_warnings(self):
        """One line per newer checkpoint passed over for the default, and why; empty when none was."""
        return [f"{name} was passed over: {reason}" for name, reason in default_checkpoint(self.checkpoint_dir)[1]]

    def model(self, name=None):
        """The model of checkpoint ``name`` (a file name from ``checkpoints()``, never a path), or the default."""
        if name:
            known = {p.name: p for p in self.checkpoints()}
            if not isinstance(name, str) or Path(name).name not in known:
                raise SeedError(f"Unknown checkpoint '{str(name)[:60]}': choose one from the list.")
            path = known[Path(name).name]
        else:
            path = self.default_checkpoint()
        with self._lock:  # one model per file, reloaded when the file changes (a training run rewrites it)
            stamp = path.stat().st_mtime if path.exists() else None
            cached = self._models.get(path)
            if cached is None or cached[0] != stamp:
                cached = self._models[path] = (stamp, load_model(path))
            return cached[1]

    def _soundfont(self, index):
        """``index`` checked as a soundfont of ``self.soundfonts`` (an index, never a path, from users)."""
        if index is None:
            return 0
        if isinstance(index, bool) or not isinstance(index, int) or (
                self.soundfonts and not 0 <= index < len(self.soundfonts)):
            raise SeedError(f"Unknown soundfont {str(index)[:20]}: choose one from the list.")
        return index

    def renderer(self, index=0):
        """The synthesizer for soundfont ``index`` of ``self.soundfonts``."""
        index = self._soundfont(index)
        with self._lock:
            if index not in self._renderers:
                font = self.soundfonts[index] if self.soundfonts else None
                self._renderers[index] = Renderer(font, voices=self.voices)
            return self._renderers[index]

    def warm_up(self):
        """Load the default model and the compiled generation step, and render every pitch at the
        default tempo and instrument as eighth notes (the most common length), so that the first
        Generate is as quick as the next ones (run it in the background). With workers, they warm up
        themselves: this waits until they have."""
        model = self.model()
        if self.workers is not None:
            self.workers.wait_ready()
            return
        generate(model, [60, 62, 64], 4, rng_seed=0)  # loads the compiled step (compiles it on a new machine)
        pitches = range(model.encoding.lowest_pitch - 6, model.encoding.highest_pitch + 7)
        self.renderer(0).render_audio(melody_to_midi([(2 * i, 2, p) for i, p in enumerate(pitches)],
                                                     tempo=Settings.tempo_bpm))

    def note_samples(self):
        """The folder of one short WAV per pitch of the drawing grid (``p60.wav`` ...), rendered once by
        FluidSynth with the first soundfont: the page plays them itself when a note is drawn, with
        no round trip to the server."""
        folder = self.storage.static / "notes"
        config = self.encoding()  # the grid draws the default model's range
        if not (folder / f"p{config.highest_pitch}.wav").exists():
            folder.mkdir(exist_ok=True)
            renderer = self.renderer(0)
            for pitch in range(config.lowest_pitch, config.highest_pitch + 1):
                audio = renderer.render_audio(melody_to_midi([(0, 3, pitch)], tempo=Settings.tempo_bpm))
                audio = audio[: int(NOTE_SAMPLE_SECONDS * renderer.sample_rate_hz)]
                fade = min(len(audio), int(0.05 * renderer.sample_rate_hz))  # no click at the cut
                if fade:
                    audio[-fade:] *= np.linspace(1.0, 0.0, fade, dtype=audio.dtype)
                encode_audio(audio, renderer.sample_rate_hz, folder / f"p{pitch}.wav")
        return folder

    def _folder(self, prefix):
        return self.storage.new_folder(prefix)

    def encoding(self, checkpoint=None):
        """The encoding of checkpoint ``checkpoint`` (or the default one): seeds are made in it."""
        return self.model(checkpoint).encoding

    def seed_from_upload(self, path, start=None, count=None, client=None, checkpoint=None):
        """A seed from part of an uploaded file's melody, and the whole ``Melody``, in the checkpoint's
        encoding; the file is read outside the generation slots, once per content, and ``client`` (the
        requester's address) may have only a few requests waiting for reads (see ``melody.serve.uploads``)."""
        config = self.encoding(checkpoint)
        melody = self.uploads.melody(path, client, config)
        return seed_part(melody, start, count, config), melody

    def seed_preview(self, seed, checkpoint=None):
        """PNG of the seed's piano roll, in its own key, over at least the model's range."""
        notes, config = seed.original_notes(), self.encoding(checkpoint)
        pitches = [p for _, _, p in notes]
        low = min([config.lowest_pitch - seed.key_shift, *pitches])
        high = max([config.highest_pitch - seed.key_shift, *pitches])
        figure = plots.piano_roll_figure(notes, [], low=low, high=high, steps_per_bar=seed.steps_per_bar,
                                         bar_offset=seed.bar_offset, origin=bar_start(seed))
        with filled(self._folder("seed-")) as folder:
            return plots.save_png(figure, folder / "seed.png")

    def seed_audio(self, seed, tempo_bpm=None, program=None, soundfont=0, folder=None):
        """MP3 file of the seed alone, in its own key, with its own rhythm (in ``folder``, or a new one)."""
        tempo_bpm, program = number(tempo_bpm, "tempo_bpm"), number(program, "program")
        soundfont = self._soundfont(soundfont)
        if folder is None:  # asked by a user: made here or by a worker, into a new folder
            with filled(self._folder("seed-")) as folder:
                if self.workers is not None:
                    return self.workers.call("seed_audio", seed, tempo_bpm, program, soundfont, folder=folder)
                return self.seed_audio(seed, tempo_bpm, program, soundfont, folder)
        midi = melody_to_midi(seed.original_notes(), tempo=tempo_bpm, program=program, start_step=bar_start(seed))
        renderer = self.renderer(soundfont)
        with self._slots:
            audio = renderer.render_audio(midi, max_seconds=MAX_AUDIO_SECONDS)
        return encode_audio(audio, renderer.sample_rate_hz, Path(folder) / "seed.mp3")

    def generate(self, seed, settings=Settings(), checkpoint=None, soundfont=0, extras=True):
        """Continue ``seed`` (a ``Melody``): for every variation an MP3 file, a piano-roll PNG, a MIDI
        file (seed then continuation, with the key signature and a marker where the seed ends) and,
        when ``settings.histogram``, a pitch-class histogram PNG; plus a one-paragraph summary. The
        audio is mixed as the notes are sampled (``sample_steps``) and encoded by a second thread,
        beside the generation and the pictures. At most ``voices`` generations run at once; more
        wait for a slot. ``extras``: also each variation's audio as WAV and its continuation alone as
        MIDI (the page's downloads; the HTTP API returns neither, so it does not have them made)."""
        *_, result = self.generate_stages(seed, settings, checkpoint, soundfont, extras=extras)
        return result

    def generate_stages(self, seed, settings=Settings(), checkpoint=None, soundfont=0, audio_first=False,
                        extras=True):
        """:meth:`generate` as a generator of its ``Result``: the finished one last. With
        ``audio_first`` it first yields the result as soon as every variation's audio is written
        (``audio_path``, ``wav_path``, ``continuation``; the pictures, MIDI files and summary not
        yet): the page plays it while the rest is drawn. (Handing the page the WAV, complete before
        the MP3, was no quicker: 4 MB for 256 notes took as much longer to fetch.)

        The files go into a new folder of the storage, which is never evicted while they are made
        (nor for a while after, while they are fetched). A full disk gives a ``StorageFull`` message,
        after the storage has deleted what it may and tried once more; a failed result leaves no files."""
        settings = settings.checked()
        if not seed.notes:
            raise SeedError("The seed is empty: draw, type or upload a few notes first.")
        self.model(checkpoint)  # a checkpoint name that is not known is said here, before any work
        soundfont = self._soundfont(soundfont)
        for attempt in (1, 2):
            folder = self._folder("result-")
            made = False
            try:
                with self.storage.holding(folder):
                    for made in self._made(seed, settings, checkpoint, soundfont, audio_first, extras, folder):
                        yield made
                return
            except OSError as exc:
                shutil.rmtree(folder, ignore_errors=True)  # no half-written files left behind
                if not disk_full(exc):
                    raise
                if made or attempt == 2 or not self.storage.free_disk():  # a stage shown already: cannot redo it
                    raise StorageFull(DISK_FULL) from None
            except BaseException:
                shutil.rmtree(folder, ignore_errors=True)
                raise

    def _made(self, seed, settings, checkpoint, soundfont, audio_first, extras, folder):
        """The stages of a result made into ``folder``, by a worker or here."""
        if self.workers is not None:
            return self.workers.run("make_stages", seed, settings, checkpoint, soundfont, audio_first, extras, folder)
        return self.make_stages(seed, settings, checkpoint, soundfont, audio_first, extras, folder)

    def make_stages(self, seed, settings, checkpoint, soundfont, audio_first, extras, folder):
        """The work of :meth:`generate_stages` (``settings`` checked already), into ``folder``: what a
        worker runs."""
        model = self.model(checkpoint)
        renderer = self.renderer(soundfont)
        with self._slots:
            yield from self._generate(seed_melody(model, seed), settings, model, renderer, audio_first, extras,
                                      Path(folder))

    def _generate(self, seed, settings, model, renderer, audio_first, extras, folder):
        started = time.perf_counter()
        shift = output_shift(seed, settings.original_key)  # the audio in the key the MIDI file is written in
        origin, step = bar_start(seed), step_seconds(settings.tempo_bpm)
        stems = [folder / f"melody-{settings.rng_seed}-v{n}" for n in range(1, settings.variations + 1)]
        writers = [Mp3Writer(stem.with_suffix(".mp3"), renderer.sample_rate_hz, stem.with_suffix(".wav") if extras else None)
                   for stem in stems]
        mixes = [AudioMix(renderer, writer.write, MAX_AUDIO_SECONDS) for writer in writers]

        def play(mix, note):
            onset, steps, pitch = note
            mix.add(pitch - shift, (onset - origin) * step, (onset - origin + steps) * step, velocity=96,
                    program=settings.program)

        result = Result(seed, settings)
        try:
            continuations, probs = _sample_playing(model, seed, settings, mixes, play)
            result.variations = [Variation(None, continuation, stem.with_suffix(".mp3"), None, None, None,
                                           wav_path=stem.with_suffix(".wav") if extras else None)
                                 for continuation, stem in zip(continuations, stems)]
            if audio_first:  # the audio now; the pictures and files after
                for writer in writers:
                    writer.close()
                result.seconds = time.perf_counter() - started
                yield result
            for row, stem in enumerate(stems):  # else while the encoders finish
                self._files(seed, probs[row], stem, settings, model, result.variations[row], extras)
        finally:
            for writer in writers:  # always stop the encoder threads, also after an error
                writer.close()
        result.seconds = time.perf_counter() - started
        result.summary = summarize(result, model, renderer)
        yield result

    def _files(self, seed, probs, stem, settings, model, variation, extras=True):
        """A variation's MIDI file, piano roll and histogram (with ``extras``, its continuation alone as
        MIDI too), filled into ``variation`` (its MP3 is written meanwhile, or was)."""
        continuation, config = variation.continuation, model.encoding
        made = export_midi(stem.with_suffix(".mid"), seed, continuation, settings.tempo_bpm, settings.program,
                           settings.original_key, settings.loop)
        seed_out, out, origin, shift = made.seed, made.continuation, made.origin, made.shift
        alone = stem.with_name(stem.name + "-continuation.mid") if extras else None
        if extras:
            export_continuation_midi(alone, seed, made, settings.tempo_bpm, settings.program)
        variation.notes, variation.roll_path, variation.midi_path = out, stem.with_suffix(".png"), stem.with_suffix(".mid")
        variation.shared_run, variation.continuation_midi_path = originality_of(model, continuation.pitches), alone
        left, right, steps = plots.roll_timeline(seed_out, out, origin)
        step = step_seconds(settings.tempo_bpm)
        continuation_end = continuation.end_step if continuation.notes else seed.end_step  # to play it alone
        variation.timeline = {"left": left, "right": right, "seconds": steps * step,
                              "seed_end": made.seed_end_seconds, "end": (continuation_end - origin) * step}
        low, high = config.lowest_pitch - shift, config.highest_pitch - shift
        plots.save_piano_roll(variation.roll_path, seed_out, out, probs if settings.show_probabilities else None,
                              low=low, high=high, steps_per_bar=seed.steps_per_bar, bar_offset=seed.bar_offset,
                              origin=origin)
        if settings.histogram:
            variation.histogram_path = stem.with_name(stem.name + "-pitch-classes.png")
            plots.save_png(plots.pitch_class_figure([p for *_, p in seed_out], [p for *_, p in out]),
                           variation.histogram_path)
        return variation

    def generate_request(self, midi_file=None, seed_notes=None, seed_start=None, seed_count=None, client=None,
                         checkpoint=None, **settings):
        """The HTTP API's ``/generate``: a seed from an uploaded file (notes ``seed_start`` ..., which
        wins over ``seed_notes``) or from note names, continued with ``settings`` given as untrusted
        values (checked here; ``tempo_bpm`` defaults to the file's own tempo). Returns the ``Result``."""
        config = self.encoding(checkpoint)
        if seed_notes is not None and not isinstance(seed_notes, str):
            raise SeedError(f"seed_notes must be text such as 'C4 D4 E4/4', got {type(seed_notes).__name__}.")
        if midi_file:
            seed = self.seed_from_upload(midi_file, seed_start, seed_count, client, checkpoint)[0]
        else:  # the file part's settings are checked even without a file: a mistake is named, not ignored
            number(seed_start, "seed_start"), number(seed_count, "seed_count")
            seed = seed_from_notes(DEFAULT_SEED_NOTES if seed_notes is None else seed_notes, config=config)
        if settings.get("tempo_bpm") in (None, ""):
            tempo = LIMITS["tempo_bpm"]
            settings["tempo_bpm"] = min(max(seed.tempo_bpm, tempo.low), tempo.high)
        settings["original_key"] = flag(settings.get("original_key"), "original_key", True)
        # the API returns the MP3, the piano roll and the MIDI file: no histogram, WAV or continuation alone
        return self.generate(seed, Settings(**settings, histogram=False), checkpoint, extras=False)

    def regenerate_request(self, notes=None, start_bar=None, end_bar=None, rng_seed=None, temperature=None,
                           tempo_bpm=None, program=None, checkpoint=None, soundfont=0):
        """The HTTP API's ``/regenerate``: the tune typed as ``notes`` (as the Type notes box reads it)
        with new notes in bars ``start_bar`` .. ``end_bar`` (0-based, ``end_bar`` not included), given
        as untrusted values (checked here). Returns a ``melody.serve.regenerating.Regenerated``."""
        if not isinstance(notes, str) or not notes.strip():
            raise SeedError("notes must be the whole tune as text, such as 'C4/4 D4/8 E4/8 r/4 G4/2'.")
        tune = seed_from_notes(notes, config=self.encoding(checkpoint))
        first, last = number(start_bar, "start_bar"), number(end_bar, "end_bar", allow_none=False)
        rule = SamplingRule(number(temperature, "temperature"))
        rng_seed = number(rng_seed, "rng_seed")
        tempo_bpm, program = number(tempo_bpm, "tempo_bpm"), number(program, "program")
        model = self.model(checkpoint)
        bar_range(seed_melody(model, tune), first, last)  # a range that is not bars of the tune is said here
        soundfont = self._soundfont(soundfont)
        with filled(self._folder("regenerated-")) as folder, self.storage.holding(folder):
            if self.workers is not None:
                return self.workers.call("make_regenerated", tune, first, last, rule, rng_seed, tempo_bpm, program,
                                         checkpoint, soundfont, folder)
            return self.make_regenerated(tune, first, last, rule, rng_seed, tempo_bpm, program, checkpoint,
                                         soundfont, folder)

    def make_regenerated(self, tune, start_bar, end_bar, rule, rng_seed, tempo_bpm, program, checkpoint, soundfont,
                         folder):
        """The work of :meth:`regenerate_request` (checked already), into ``folder``: what a worker runs."""
        model, renderer = self.model(checkpoint), self.renderer(soundfont)
        with self._slots:
            return regenerating.make_files(model, renderer, seed_melody(model, tune), start_bar, end_bar, rule,
                                           rng_seed, tempo_bpm, program, folder)


def steering(seed, settings):
    """The settings' ``Steering`` (pins and scale are given in the seed's own key, as the page shows them)."""
    pins, scale = in_model_key(seed, settings.pins, settings.scale)
    return Steering(pins=pins, scale=scale, scale_strength=settings.scale_strength, loop=settings.loop,
                    max_copy=settings.max_copy)


def _sample_playing(model, seed, settings, mixes, play):
    """Sample the settings' continuations of ``seed``, each note handed to ``play(mix, note)`` as it
    comes (the seed's notes first, and with a loop everything once more at the end); returns the
    continuations and, per variation, the model's pitch distribution at each of its notes."""
    tokens, probs = [[] for _ in mixes], [[] for _ in mixes]
    for mix in mixes:
        for note in seed.notes:
            play(mix, note)
    rule = SamplingRule(settings.temperature, settings.beta, settings.top_k, settings.top_p)
    for made in sample_steps(model, seed, settings.length, rule, steering(seed, settings), rng_seed=settings.rng_seed,
                             num_variations=settings.variations, memory=float(settings.memory)):
        for row, (mix, note) in enumerate(zip(mixes, made.notes)):
            if note is not None or not made.done[row]:
                tokens[row].append(int(made.tokens[row]))
            if note is not None:
                play(mix, note)
                probs[row].append(pitch_marginal(model.encoding, made.probs[row]))
    continuations = [continuation_of(model.encoding, seed, t) for t in tokens]
    if settings.loop:  # play it all once more, to hear the seam
        for mix, continuation in zip(mixes, continuations):
            for note in looped_once_more(seed, continuation):
                play(mix, note)
    for mix in mixes:
        mix.close()
    return continuations, probs


def pitch_marginal(config, probs):
    """The probability of every pitch (lengths summed, rest left out) from a token distribution."""
    return probs.reshape(config.pitch_slots, config.length_slots).sum(-1)[: config.pitch_count]


def originality_of(model, continuation):
    """Longest run of the continuation shared with a training song: ``(notes, song, the index's window
    in notes)``; ``(None, None, None)`` for a checkpoint without an index."""
    index = model.info.get("originality")
    if not index:
        return None, None, None
    return (*longest_shared_run(index, list(continuation)), index["order"])


def describe_originality(shared):
    """The summary's words on originality: how many notes in a row the result has in common with one
    training song (they were copied, or happen to agree), said plainly."""
    length, song, order = shared
    if length is None:
        return "this checkpoint has no index of its training songs, so copying is not checked"
    if not length:
        return f"no {order} notes in a row are the same as in any training song"
    return f"at most {length} notes in a row are the same as in a training song ({song})"


def plural(count, noun):
    """``"1 variation"``, ``"2 variations"``."""
    return f"{count} {noun}{'' if count == 1 else 's'}"


def summarize(result, model, renderer):
    s = result.settings
    rule = f"beta {s.beta:g}" if s.beta else f"temperature {s.temperature:g}"
    rule += f", song memory {float(s.memory):g}"
    cut = "".join([f", top-k {s.top_k}" if s.top_k else "", f", top-p {s.top_p:g}" if s.top_p else ""])
    key = result.seed.key if s.original_key else "C major / A minor (the model's key)"
    steered = "".join([f"; pins {s.pins}" if s.pins else "", f"; scale {s.scale}" if s.scale else "",
                       f" (a preference, strength {s.scale_strength:g})" if s.scale and s.scale_strength < 1 else "",
                       "; looping back into the seed (played twice)" if s.loop else "",
                       f"; at most {s.max_copy} notes in a row from a training song" if s.max_copy else ""])
    lines = [f"{plural(len(result.variations), 'variation')} of {s.length} notes after a {len(result.seed)}-note seed "
             f"from {result.seed.source}; {rule}{cut}{steered}; random seed {s.rng_seed}; key {key}; "
             f"{s.tempo_bpm:g} BPM, {instrument_name(s.program)}; "
             f"model {model.path.name}; sound: {renderer.describe()}; {result.seconds:.2f} s."]
    for n, v in enumerate(result.variations, start=1):
        notes = v.notes[:16]
        text = format_timed_notes(timed_items(notes, notes[-1][0] + notes[-1][1])) if v.continuation.rhythm and notes \
            else format_notes([p for *_, p in notes])
        lines.append(f"Variation {n}: {text}{' ...' if len(v.notes) > 16 else ''}; "
                     f"{describe_originality(v.shared_run)}")
    return "\n".join(lines)

