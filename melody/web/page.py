"""The playground page: layout and wiring of Gradio components, and starting the server.

``app.py`` (and the ``melody-playground`` command) run :func:`main`. The work lives elsewhere:
melody.serve.playground (generation, the HTTP API's request), melody.serve.seed_sources (seeds, Undo),
melody.settings (every range and default) and melody.serve.server (request guards, sessions, ports).
"""
import argparse
import atexit
import functools
import inspect
import logging
import os
import re
import signal
import sys
import threading
import time
from pathlib import Path

import gradio as gr

from ..version import __version__
from ..serve import server
from ..serve import playground as pg
from ..errors import MelodyError
from ..serve.seed_sources import grid_meter, typed_changes
from ..settings import BETA_SUGGESTED, LIMITS
from ..serve.storage import Storage
from .answers import SERVER_ERROR, Page, describe_bug
from .grid import GRID_STEPS, piano_grid

log = logging.getLogger("melody")
DEFAULT_PORT = 7860
SESSION_IDLE_SECONDS = 1800  # a session's page state is dropped after half an hour without a request
SESSION_CAPACITY = 1000
EXAMPLES = [  # with lengths (/4 a quarter, /8 an eighth, a dot for dotted, r a rest), after a meter if not 4/4
    ["C4 D4 E4 F4 G4 A4 B4 C5/4", "C major scale"],
    ["A3 B3 C4 D4 E4 F4 G#4 A4/4", "A harmonic minor scale"],
    ["C4/8 D4/8 E4/4 G4/8 A4/8 C5/4 A4/8 G4/8 E4/4 D4/2", "pentatonic line"],
    ["C4 E4 G4 C5 G4 E4 C4/4 F4 A4 C5 F5 C5 A4 F4/4", "arpeggios"],
    ["E4/4 E4/4 F4/4 G4/4 G4/4 F4/4 E4/4 D4/4 C4/4 C4/4 D4/4 E4/4 E4/4. D4/8 D4/2", "Ode to Joy"],
    ["C4/4 C4/4 G4/4 G4/4 A4/4 A4/4 G4/2 F4/4 F4/4 E4/4 E4/4 D4/4 D4/4 C4/2", "Twinkle, Twinkle"],
    ["G4/4 A4/4 B4/4 G4/4 G4/4 A4/4 B4/4 G4/4 B4/4 C5/4 D5/2 B4/4 C5/4 D5/2", "Frère Jacques"],
    ["3/4 A4/4 C5/2 D5/4 E5/4. F5/8 E5/4 D5/2 B4/4 G4/4. A4/8 B4/4 C5/2 A4/4 A4/4. G#4/8 A4/4 B4/2 G#4/4 E4/2",
     "Greensleeves (in 3/4)"],
]

# Gradio keeps uploads and a copy of every file an event returns in GRADIO_TEMP_DIR (read when a
# component or the server is made): point it at this server's bounded storage, where results are
# written, so that each result is on disk once.
# Gradio's reload mode imports this module again inside the running server (gr.NO_RELOAD is then
# False), which serves files from the folder it started with only: that import writes there too.
if not gr.NO_RELOAD and os.environ.get("GRADIO_TEMP_DIR"):
    STORAGE = Storage(root=os.environ["GRADIO_TEMP_DIR"])
else:
    STORAGE = Storage(base=os.environ.get("MELODY_TMP") or os.environ.get("GRADIO_TEMP_DIR"))
os.environ["GRADIO_TEMP_DIR"] = str(STORAGE.root)
atexit.register(STORAGE.close)


SCALE_CHOICES = [("any note", ""), ("the seed's key", "key"), ("the seed's own notes", "seed")] + [
    (name, name) for name in ("C major", "A minor", "C major pentatonic", "A minor pentatonic", "A blues", "D dorian",
                              "G mixolydian", "E phrygian", "F lydian", "A harmonic minor")]


def raw(component):
    """An input of the HTTP API that hands its value to the function unchanged, so that
    ``melody.settings`` checks it and names the setting: Gradio's own conversion fails on text or
    NaN with a bare "Error", and takes "false" for true. (Set on the instance: a subclass of a
    Gradio component would make Gradio write a .pyi file beside this module.)"""
    component.preprocess = lambda payload: payload
    return component


def RawNumber(*args, **kwargs):  # noqa: N802  (reads like the component it makes)
    return raw(gr.Number(*args, **kwargs))


def RawCheckbox(*args, **kwargs):  # noqa: N802
    return raw(gr.Checkbox(*args, **kwargs))


def catching(fn, handle):
    """``fn`` with a ``MelodyError`` (bad file, note or setting: the user's, not a bug) logged as one
    short line, not a traceback, and handed to ``handle``, whose result is returned. Any other error
    is a bug: logged as one line that says where, and handed on as a ``MelodyError`` that says so."""

    def answer(exc):
        if isinstance(exc, MelodyError):
            log.info("user error in %s: %s", fn.__name__, exc)
            return handle(exc)
        log.warning("server error in %s: %s", fn.__name__, describe_bug(exc))
        return handle(MelodyError(SERVER_ERROR))

    if inspect.isgeneratorfunction(fn):  # an event that sends its outputs in stages (Gradio streams them)
        @functools.wraps(fn)
        def stages(*args, **kwargs):
            try:
                yield from fn(*args, **kwargs)
            except gr.Error:
                raise
            except Exception as exc:
                yield answer(exc)

        return stages

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except gr.Error:
            raise
        except Exception as exc:
            return answer(exc)

    return wrapper


def user_errors(fn):
    """Show a MelodyError as a message on the page (a toast)."""

    def toast(exc):
        raise gr.Error(str(exc), title="Cannot do that", print_exception=False) from None

    return catching(fn, toast)


def client_of(request):
    """The requester's address (what the upload reader's limits count by, whatever session id it sends)."""
    client = getattr(request, "client", None) if request is not None else None
    return getattr(client, "host", None)


def slider(name, label=None, **kwargs):
    """A slider whose range, step and default come from ``melody.settings.LIMITS``."""
    limit = LIMITS[name]
    default = kwargs.pop("value", limit.default)
    low = kwargs.pop("minimum", limit.low)  # 0 for a setting that 0 turns off
    return gr.Slider(low, limit.slider_high or limit.high, default, step=limit.step, label=label or limit.what,
                     **kwargs)


def model_panel(playground):
    checkpoints = playground.checkpoint_choices()
    fonts = [(f.label, i) for i, f in enumerate(playground.soundfonts)] or [("built-in synth", 0)]
    with gr.Accordion("Model and sound", open=False, elem_id="model-and-sound"):
        with gr.Row():
            checkpoint = gr.Dropdown(checkpoints, value=playground.default_checkpoint().name,
                                     label="Model checkpoint", scale=3, elem_id="checkpoint")
            soundfont = gr.Dropdown(fonts, value=0, label="Soundfont", scale=2, elem_id="soundfont")
        status = gr.Markdown(sound_status(playground, 0), elem_id="sound-status")
    soundfont.change(user_errors(functools.partial(sound_status, playground)), soundfont, status,
                     api_visibility="private")
    warnings = gr.Markdown(checkpoint_warnings(playground), elem_id="checkpoint-warnings")
    return checkpoint, soundfont, warnings


def sound_status(playground, index):
    """The "Sound:" line: the synthesizer and soundfont that play the results."""
    return f"Sound: {playground.renderer(index).describe()}."


def checkpoint_warnings(playground):
    lines = playground.checkpoint_warnings()
    return "\n".join(f"⚠️ {line[:300]}" for line in lines)


def seed_panel(playground, default_seed):
    with gr.Tabs():
        with gr.Tab("Draw", id="draw"):
            grid = piano_grid(pg.grid_value(default_seed), elem_id="grid",
                              samples=f"/gradio_api/file={playground.note_samples()}")
        with gr.Tab("Upload MIDI", id="upload"):
            upload = gr.File(label="A .mid or .midi file", file_types=[".mid", ".midi"], elem_id="upload")
            upload_info = gr.Markdown(elem_id="upload-info")
            with gr.Row():
                start = LIMITS["seed_start"]
                count = LIMITS["seed_count"]
                # no minimum/maximum here: melody.settings checks them and names the field
                seed_start = gr.Number(start.default, label=start.what, precision=0, elem_id="seed-start")
                seed_count = gr.Number(count.default, label=count.what, precision=0, elem_id="seed-count")
                use_part = gr.Button("Use this part as the seed")
        with gr.Tab("Type notes", id="type"):
            notes = gr.Textbox(label="Notes", placeholder="C4 D4 E4 G4   or   C4/4 D4/8 E4/8 r/4 G4/2   or   60 62 64 67",
                               info="a name and octave (C4 = middle C), or a MIDI number; add a length: /4 quarter, "
                                    "/8 eighth (the default), /16, /2, /1, a dot for dotted (/4.), *N for N sixteenths; "
                                    "r is a rest; start with a meter such as 3/4 or 6/8 if not 4/4", elem_id="notes",
                               max_length=pg.MAX_SEED_NOTES * 16)
            notes_message = gr.Markdown(elem_id="notes-message")
            use_notes = gr.Button("Use these notes", elem_id="use-notes")
            gr.Examples([[e[0]] for e in EXAMPLES], [notes], label="Examples (click one)",
                        example_labels=[e[1] for e in EXAMPLES], cache_examples=False)
    seed_text = gr.Markdown(seed_line(default_seed), elem_id="seed-text")
    seed_roll = gr.Image(playground.seed_preview(default_seed), label="Seed", interactive=False,
                         elem_id="seed-roll", height=260)
    seed_message = gr.Markdown(elem_id="seed-message")
    with gr.Row():
        hear = gr.Button("Hear the seed", size="sm", elem_id="hear-seed")
        undo = gr.Button("Undo seed", size="sm", elem_id="undo-seed", interactive=False)
    seed_audio = gr.Audio(label="The seed alone", interactive=False, elem_id="seed-audio", autoplay=True)
    return dict(grid=grid, hear=hear, seed_audio=seed_audio, upload=upload, upload_info=upload_info,
                seed_start=seed_start, seed_count=seed_count, use_part=use_part, notes=notes, use_notes=use_notes,
                notes_message=notes_message, seed_text=seed_text, seed_roll=seed_roll, undo=undo,
                seed_message=seed_message)


def settings_panel():
    instruments = [(f"{n}: {pg.instrument_name(n)}", n) for n in range(128)]
    c = {}
    c["temperature"] = slider("temperature", info="lower = safer, higher = wilder; 0 = always the likeliest note")
    c["length"] = slider("length", "Length (notes)", elem_id="length")
    c["variations"] = slider("variations", elem_id="variations")
    with gr.Accordion("Advanced", open=False):
        c["rule"] = gr.Radio(["temperature", "softmax base (beta)"], value="temperature", label="Sampling rule",
                             elem_id="rule")
        c["beta"] = slider("beta", f"beta (the original used {BETA_SUGGESTED:g})", value=BETA_SUGGESTED, visible=False,
                           elem_id="beta")
        c["top_k"] = slider("top_k", "top-k (0 = off)", value=0)
        c["top_p"] = slider("top_p", "top-p (1 = off)", value=1.0)
        c["memory"] = slider("memory", info="how often the melody's own phrases come back: 1 = as much as in the "
                                            "training songs, 0 = never on purpose")
        with gr.Row():
            c["rng_seed"] = gr.Number(1, label="Random seed", precision=0, elem_id="rng-seed")
            c["fresh"] = gr.Checkbox(True, label="New random seed each time")
        c["tempo"] = slider("tempo_bpm")
        c["program"] = gr.Dropdown(instruments, value=0, label="Instrument (General MIDI)")
        c["original_key"] = gr.Checkbox(True, label="Return to the seed's original key")
        c["show_probs"] = gr.Checkbox(True, label="Shade the model's probabilities in the piano roll")
    with gr.Accordion("Steer: pins, scale, loop, copy cap", open=False, elem_id="steer"):
        c["pins"] = gr.Textbox(label="Pinned notes", placeholder="15:C5 31:G4/4", elem_id="pins",
                               info="note number in the continuation (0 = the first new note), a colon, a note "
                                    "in the seed's key; a length is optional (/4), and @N starts it N sixteenths "
                                    "after the seed. The continuation passes through each one.")
        with gr.Row():
            c["scale"] = gr.Dropdown(SCALE_CHOICES, value="", label="Keep to a scale", allow_custom_value=True,
                                     elem_id="scale", info="or type one: 'E phrygian', 'A blues'...")
            c["scale_strength"] = slider("scale_strength", "Scale: 1 = strictly, lower = a preference")
        with gr.Row():
            c["loop"] = gr.Checkbox(False, label="Seamless loop: end leading back into the seed (played twice)",
                                    elem_id="loop")
            cap = LIMITS["max_copy"]  # the server's range, and 0 for off
            c["max_copy"] = slider("max_copy", f"Copy cap: at most N notes in a row from a training song (0 = off, "
                                   f"else {cap.low:,} to {cap.high:,})", value=0, minimum=0, elem_id="max-copy")
    # beta is the softmax base's only setting: shown while that rule is chosen
    c["rule"].change(lambda rule: gr.Slider(visible=rule != "temperature"), c["rule"], c["beta"],
                     api_visibility="private", show_progress="hidden")
    c["generate"] = gr.Button("Generate", variant="primary", elem_id="generate")
    c["message"] = gr.Markdown(elem_id="generate-message")
    with gr.Row():
        c["autoplay"] = gr.Checkbox(True, label="Play the first result as soon as it is ready", elem_id="autoplay")
        c["loop_playback"] = gr.Checkbox(False, label="Loop playback", elem_id="loop-playback")
    return c


FILES_MIN_WIDTH = 260  # px: on a phone each download gets a line of its own, wide enough for its name


def results_panel():
    summary = gr.Textbox(label="Summary", lines=3, interactive=False, elem_id="summary")
    compare = gr.Button("Compare the variations: each continuation in turn", visible=False, elem_id="compare")
    compare.click(None, None, None, js="() => window.melodyCompare()", api_visibility="private")
    outputs = []
    for number in range(1, pg.MAX_VARIATIONS + 1):
        with gr.Group(visible=number == 1) as group:
            audio = gr.Audio(label=f"Variation {number}: seed then continuation", interactive=False, autoplay=number == 1,
                             elem_id=f"audio-{number}")
            roll = gr.Image(label=f"Variation {number}: piano roll (click to play from there)", interactive=False,
                            elem_id=f"roll-{number}")
            timeline = gr.HTML(None, elem_id=f"timeline-{number}", padding=False, container=False,
                               html_template=TIMELINE)
            with gr.Row():
                histogram = gr.Image(label="Pitch classes", interactive=False, height=220, elem_id=f"histogram-{number}",
                                     min_width=FILES_MIN_WIDTH)
                midi = gr.File(label="MIDI (seed then continuation)", elem_id=f"midi-{number}", min_width=FILES_MIN_WIDTH)
                more = gr.File(label="Also: the continuation alone (MIDI), and WAV", file_count="multiple",
                               elem_id=f"downloads-{number}", min_width=FILES_MIN_WIDTH)
                with gr.Column(min_width=160):  # usable once there is a result; a mistake is said under them
                    alone = gr.Button("Play the continuation alone", elem_id=f"alone-{number}", interactive=False)
                    keep = gr.Button(f"Continue from variation {number}", elem_id=f"continue-{number}",
                                     interactive=False)
                    said = gr.Markdown(elem_id=f"continue-message-{number}")
            alone.click(None, None, None, js=f"() => window.melodyPlayContinuation({number})",
                        api_visibility="private")
        outputs.append((group, audio, roll, histogram, midi, more, timeline, keep, alone, said))
    return summary, compare, outputs


def seed_views_of(playground, state):
    """What the page shows of a session's seed: the state, its piano roll, its description, the Undo
    button (usable when there is a seed to go back to), the seed's message (cleared), the grid,
    which shows the seed whatever its source (its notes with their lengths; long seeds scroll), and
    the message under Generate (cleared: a warning there was about a seed that is gone)."""
    value = pg.grid_value(state["seed"])
    grid = gr.HTML(value=value, steps=grid_steps(value))
    return (state, playground.seed_preview(state["seed"]), seed_line(state["seed"]),
            gr.Button(interactive=bool(state["history"])), "", grid, "")


def plain(text):
    """``text`` shown as it is in a ``gr.Markdown``: ``C5*10 D5*3`` stays that, not ``C510 D53`` in italics."""
    return re.sub(r"([\\`*_\[\]<>#~|])", r"\\\1", str(text))


def seed_line(seed):
    """The "Seed:" line: what the seed is, its notes as typed (plain text: a length ``*N`` is no Markdown)."""
    return f"**Seed:** {plain(seed.describe())}"


def warning(exc):
    return f"⚠️ {plain(str(exc)[:600])}"


def beside(fn, outputs, message):
    """``fn`` with a ``MelodyError`` shown in the Markdown ``message`` (one of ``outputs``, placed next to
    the input that caused it) and every other output left as it was: no red badges, nothing blanked."""
    where = outputs.index(message)
    return catching(fn, lambda exc: [warning(exc) if i == where else gr.skip() for i in range(len(outputs))])


def grid_steps(value):
    """Columns for a grid showing ``value``: the usual four bars, or room for every note and a bar more."""
    unit, _ = pg.grid_columns(value)
    return max(GRID_STEPS, pg.grid_end(value) + 16 // unit)


def grid_changed(playground, value, state, checkpoint=None):
    """The drawing grid changed: its notes become the seed. An empty grid is not an error while drawing,
    but Generate then says the grid is empty (it does not continue an older seed)."""
    notes = pg.grid_notes(value)
    if not notes:
        empty = "The grid is empty: draw some notes (or press Undo on the grid)."
        return (pg.with_problem(state, empty), gr.skip(), "**Seed:** the grid is empty: draw some notes.", gr.skip(), "",
                gr.skip(), gr.skip())
    if notes == pg.grid_notes(pg.grid_value(state["seed"])) and grid_meter(value) == state["seed"].time_signature() \
            and not state.get("problem"):
        return (gr.skip(),) * 7  # only pins changed: the seed keeps its own rhythm
    seed = pg.seed_from_grid(value, playground.encoding(checkpoint))
    views = seed_views_of(playground, pg.with_seed(state, seed, live=True))
    return (*views[:5], gr.skip(), views[6])  # the grid has it


def wire_seed_events(playground, s, session, tempo, program, soundfont, checkpoint, generate_message):
    """Seeds are made in the encoding of the chosen checkpoint (its extraction, lengths or not). A
    mistake shows next to its input; the current seed and its roll stay as they were."""
    seed_views = [session, s["seed_roll"], s["seed_text"], s["undo"], s["seed_message"], s["grid"], generate_message]
    show_seed = functools.partial(seed_views_of, playground)
    s["grid"].input(beside(functools.partial(grid_changed, playground), seed_views, s["seed_message"]),
                    [s["grid"], session, checkpoint], seed_views, trigger_mode="always_last", show_progress="hidden",
                    api_visibility="private")

    def hear(state, bpm, prog, font):  # the current seed, whatever its source, with its own rhythm
        return playground.seed_audio(pg.usable_seed(state), bpm, prog, font), ""

    s["hear"].click(beside(hear, [s["seed_audio"], s["seed_message"]], s["seed_message"]),
                    [session, tempo, program, soundfont], [s["seed_audio"], s["seed_message"]],
                    api_visibility="private")

    def inspect_upload(path, state, start, count, ckpt, request: gr.Request):
        if not path:
            return state, gr.skip(), gr.skip(), gr.skip(), "", gr.skip(), gr.skip(), "", gr.skip(), gr.skip()
        try:
            seed, melody = playground.seed_from_upload(path, start, count, client_of(request), ckpt)
        except MelodyError as exc:  # said beside the upload; a bad file leaves the box
            log.info("user error in upload: %s", exc)
            bad_file = None if "Start at note" not in str(exc) and "Number of notes" not in str(exc) else gr.skip()
            return state, gr.skip(), gr.skip(), gr.skip(), "", gr.skip(), gr.skip(), warning(exc), bad_file, gr.skip()
        limit = LIMITS["tempo_bpm"]
        file_tempo = round(min(max(melody.tempo_bpm, limit.low), limit.high), 1)  # the page plays it at the file's tempo
        return (*show_seed(pg.with_seed(state, seed)), f"**{plain(Path(path).name)}:** {plain(melody.summary())}.",
                gr.skip(), file_tempo)

    upload_inputs = [s["upload"], session, s["seed_start"], s["seed_count"], checkpoint]
    upload_outputs = [*seed_views, s["upload_info"], s["upload"], tempo]
    s["upload"].upload(inspect_upload, upload_inputs, upload_outputs, api_visibility="private")
    for event in (s["use_part"].click, s["seed_start"].submit, s["seed_count"].submit):
        event(inspect_upload, upload_inputs, upload_outputs, api_visibility="private")

    def typed_seed(text, state, ckpt):
        seed = pg.seed_from_notes(text, config=playground.encoding(ckpt))
        return *show_seed(pg.with_seed(state, seed, live=True)), plain(typed_changes(text, seed))

    typed_views = [*seed_views, s["notes_message"]]
    typed = beside(typed_seed, typed_views, s["notes_message"])
    s["use_notes"].click(typed, [s["notes"], session, checkpoint], typed_views, api_visibility="private")
    s["notes"].submit(typed, [s["notes"], session, checkpoint], typed_views, api_visibility="private")

    def while_typing(text, state, ckpt):  # follow the text as it is typed (or an example is clicked)
        try:
            return typed_seed(text, state, ckpt)
        except MelodyError as exc:  # said beside the text; Generate will not continue an older seed
            problem = f"The typed notes have a mistake: {exc}"
            return (pg.with_problem(state, problem), gr.skip(), gr.skip(), gr.skip(), "", gr.skip(), gr.skip(),
                    warning(exc))

    s["notes"].change(while_typing, [s["notes"], session, checkpoint], typed_views, trigger_mode="always_last",
                      show_progress="hidden", api_visibility="private")
    s["undo"].click(beside(lambda state: show_seed(pg.undo_seed(state)), seed_views, s["seed_message"]), session,
                    seed_views, api_visibility="private")
    return seed_views, show_seed


def wire_generation(playground, c, session, checkpoint, soundfont, summary, compare, outputs, seed_views, show_seed,
                    grid):
    def run(state, ckpt, font, temp, n, k_variations, how, b, k, p, mem, rng, new_rng, bpm, prog, back, shade,
            pins, scale, strength, loop, max_copy, grid):
        pins = " ".join(filter(None, [pg.grid_pins(grid), pins]))  # a note pinned on the grid and typed: refused
        settings = pg.Settings(length=n, temperature=temp, beta=b if how != "temperature" else None,
                               top_k=k or None, top_p=p, rng_seed=None if new_rng else rng, tempo_bpm=bpm,
                               program=prog, original_key=back, variations=k_variations,
                               show_probabilities=shade, memory=mem, pins=pins, scale=scale or None,
                               scale_strength=strength, loop=loop, max_copy=max_copy or None)
        # The audio first, to play at once; then the pictures, the files and the summary.
        stages = playground.generate_stages(pg.usable_seed(state), settings, checkpoint=ckpt, soundfont=font,
                                            audio_first=True)
        result = next(stages)
        count = len(result.variations)
        # Gradio rebuilds a component for each update it is given, even gr.skip() (about 1 ms for
        # a picture or a file list, 25-30 ms for all of them), so the audio goes out with as few as
        # possible: groups shown or hidden only when the number of variations changes (the session
        # remembers how many are shown); a shown result's old pictures stay until the new ones come
        # (no flicker), its old downloads and every hidden result's content are cleared (cheap).
        same = count == state.get("shown", 1)
        state = dict(state, shown=count)
        updates = [state, result.settings.rng_seed, gr.skip(), "",
                   gr.skip() if same else gr.Button(visible=count > 1)]
        for number in range(len(outputs)):
            group = gr.skip() if same else gr.Group(visible=number < count)
            if number < count:
                updates += [group, str(result.variations[number].audio_path), gr.skip(), gr.skip(), None, None,
                            gr.skip()]
            else:
                updates += [group, None, None, None, None, None, gr.skip()]
            updates += [gr.skip(), gr.skip()]  # Continue and Play alone: usable when the result is whole
        yield updates
        *_, result = stages
        state = dict(state, results=[v.continuation for v in result.variations], results_seed=result.seed)
        updates = [state, gr.skip(), result.summary, "", gr.skip()]  # the groups were shown with the audio
        for number in range(len(outputs)):
            if number < count:
                v = result.variations[number]
                updates += [gr.skip(), gr.skip(), str(v.roll_path), str(v.histogram_path), str(v.midi_path),
                            [str(v.continuation_midi_path), str(v.wav_path)], v.timeline]
            else:
                updates += [gr.skip(), None, None, None, None, None, None]
            updates += [gr.Button(interactive=number < count), gr.Button(interactive=number < count)]
        yield updates

    inputs = [session, checkpoint, soundfont] + [c[k] for k in (
        "temperature", "length", "variations", "rule", "beta", "top_k", "top_p", "memory", "rng_seed", "fresh",
        "tempo", "program", "original_key", "show_probs", "pins", "scale", "scale_strength", "loop", "max_copy")] + [grid]
    results = [session, c["rng_seed"], summary, c["message"], compare,
               *[x for group in outputs for x in group[:9]]]
    # The progress shows under the button just clicked: on every output it was out of view, and
    # animating some 30 overlays cost the page about 50 ms of a 256-note Generate (bench/page.py).
    c["generate"].click(beside(run, results, c["message"]), inputs, results, api_visibility="private",
                        concurrency_id="generate", concurrency_limit=GENERATE_REQUESTS,
                        show_progress_on=c["message"]).success(
        None, None, None, js=SCROLL_TO.format("audio-1"), api_visibility="private")
    first_audio = outputs[0][1]  # plays by itself when it arrives, while the setting is on
    c["autoplay"].change(lambda on: gr.Audio(autoplay=bool(on)), c["autoplay"], first_audio, api_visibility="private")
    audios = [group[1] for group in outputs]
    c["loop_playback"].change(lambda on: [gr.Audio(loop=bool(on)) for _ in audios], c["loop_playback"], audios,
                              api_visibility="private")

    for number, group in enumerate(outputs):
        keep, said = group[7], group[9]

        def keep_going(state, ckpt, number=number):
            if number >= len(state.get("results", [])):
                raise MelodyError("Generate first: there is no result to continue from yet.")
            # the seed these results continued, even if another seed was set since
            longer = pg.continue_from(state["results_seed"], state["results"][number], playground.encoding(ckpt))
            return *show_seed(pg.with_seed(state, longer)), ""

        views = [*seed_views, said]
        keep.click(beside(keep_going, views, said), [session, checkpoint], views,
                   api_visibility="private").success(None, None, None, js=SCROLL_TO.format("seed-roll"),
                                                     api_visibility="private")


# Contrast of at least 4.5:1 (WCAG AA) for the Generate button, the hints, the sliders' ends, the
# players' times, "Use via API" and the selected tab (axe-core checks every page state:
# tests/test_browser.py). On any width, a download's name wraps instead of being cut to ".n", a
# dropdown's text stops before its arrow, and a piano roll's label sits above the picture instead of over it.
# The checkpoint warnings never scroll (a region that scrolls must take the keyboard's focus: axe).
PAGE_CSS = """
#generate { background: #c2410c; border-color: #9a3412; color: #ffffff; }
#generate:hover { background: #9a3412; }
:root, .dark { --block-info-text-color: #52525b; }
:root { --body-text-color-subdued: #52525b; }
.dark { --body-text-color-subdued: #a1a1aa; }
button[role=tab].selected { color: #c2410c; }
.timestamps time, .controls .playback span { color: var(--body-text-color-subdued) !important; }
.file-preview td.filename, .file-preview td.filename .stem { white-space: normal; overflow-wrap: anywhere;
                                                             overflow: visible; }
.file-preview td.filename .ext { white-space: nowrap; flex: none; overflow: visible; }
.file-preview td.download { white-space: nowrap; width: 1%; }
input[role=combobox] { text-overflow: ellipsis; padding-right: 28px !important; }
#seed-roll .image-container, [id^=roll-] .image-container { padding-top: 2.2em; }
#generate-message:has([data-testid=status-tracker]:not(.hide)) { min-height: 3em; }
#checkpoint-warnings, #checkpoint-warnings * { overflow: visible !important; }
"""

# Every picture says what it shows (Gradio's images have no alt text of their own).
PAGE_JS = """() => {
  const alt = (id) => {
    if (id === 'seed-roll') return 'Piano roll of the seed: its notes by pitch and time';
    if (id.startsWith('roll-')) return `Piano roll of variation ${id.slice(5)}: the seed in blue, then the continuation in orange`;
    if (id.startsWith('histogram-')) return `Pitch classes of the seed and of variation ${id.slice(10)}'s continuation`;
    return null;
  };
  const apply = () => {
    document.querySelectorAll('img').forEach((img) => {
      const holder = img.closest('[id]');
      const text = holder ? alt(holder.id) : null;
      if (text && img.alt !== text) img.alt = text;
    });
    // Gradio's empty boxes carry a label that a plain box may not have (the block's own label names
    // it); the upload area and a player's speed button are named by the words they show.
    document.querySelectorAll('.empty[aria-label]:not([role])').forEach((box) => box.removeAttribute('aria-label'));
    document.querySelectorAll('button.upload-container[aria-label]').forEach((b) => b.removeAttribute('aria-label'));
    document.querySelectorAll('button.playback[aria-label]').forEach((b) => {
      const shown = b.textContent.trim(), label = b.getAttribute('aria-label');
      if (shown && !label.startsWith(shown)) b.setAttribute('aria-label', `${shown} speed: ${label.toLowerCase()}`);
    });
  };
  new MutationObserver(apply).observe(document.body, {childList: true, subtree: true, attributes: true,
                                                      attributeFilter: ['src', 'aria-label']});
  apply();
// Playheads: a line over each result's piano roll where its audio is; a click on the roll plays from there.
const findAudio = (root) => {
  for (const el of root.querySelectorAll('*')) {
    if (el.tagName === 'AUDIO' && el.src) return el;
    if (el.shadowRoot) { const found = findAudio(el.shadowRoot); if (found) return found; }
  }
  return null;
};
const timeline = (n) => {
  const data = document.querySelector(`#timeline-${n} .roll-timeline`);
  if (!data || !data.dataset.seconds) return null;
  return { left: +data.dataset.left, right: +data.dataset.right, seconds: +data.dataset.seconds,
           seedEnd: +data.dataset.seedEnd, end: +data.dataset.end };
};
const audioOf = (n) => { const holder = document.getElementById(`audio-${n}`); return holder && findAudio(holder); };
const seedAudio = () => { const holder = document.getElementById('seed-audio'); return holder && findAudio(holder); };
// One sound at a time: a player that starts (a result, or the seed alone) pauses every other one,
// also when it started playing by itself before it was found.
const solo = (audio) => {
  if (!audio.dataset.stopAt) queue = [];  // played by hand: a comparison under way ends
  for (const other of [seedAudio(), audioOf(1), audioOf(2), audioOf(3), audioOf(4)]) {
    if (other && other !== audio) { delete other.dataset.stopAt; other.pause(); }
  }
};
const watch = (audio) => {
  if (!audio || audio.dataset.watched) return;
  audio.dataset.watched = '1';
  audio.addEventListener('play', () => solo(audio));
  if (!audio.paused) solo(audio);
};
// The continuation alone: from where the seed ends to where the continuation ends, then the next
// in the queue (Compare plays each variation's continuation in turn). One result sounds at a time.
let queue = [];
const playAlone = (n) => {
  const line = timeline(n), a = audioOf(n);
  if (!line || !a) return;
  a.currentTime = line.seedEnd;
  a.dataset.stopAt = line.end;
  a.play().catch(() => {});
};
window.melodyPlayContinuation = (n) => { queue = []; playAlone(n); };
window.melodyCompare = () => {
  queue = [1, 2, 3, 4].filter((n) => timeline(n) && audioOf(n) && document.getElementById(`audio-${n}`).offsetParent);
  if (queue.length) playAlone(queue.shift());
};
const stopAtItsEnd = (audio) => {
  if (!audio.dataset.stopAt || (audio.currentTime < +audio.dataset.stopAt && !audio.ended)) return;
  delete audio.dataset.stopAt;
  audio.pause();
  if (queue.length) playAlone(queue.shift());
};
// Each result's audio, picture and line are looked up at most every 250 ms (and at once when one
// is gone: a new result), the picture's place read only then. Each frame reads the audio's time
// and moves the line only when it moved by a pixel: nothing is written while nothing plays, and no
// layout is read between the player's own writes (which would force the page to lay out again).
const heads = {};
let looked = -1e9;
const lookUp = (n) => {
  const roll = document.getElementById(`roll-${n}`), line = timeline(n);
  const img = roll && roll.querySelector('img');
  const audio = audioOf(n);
  if (!img || !line || !audio || !img.clientWidth) return null;
  watch(audio);
  const box = img.parentElement;
  if (getComputedStyle(box).position === 'static') box.style.position = 'relative';
  let head = box.querySelector('.playhead');
  if (!head) {
    head = document.createElement('div');
    head.className = 'playhead';
    head.setAttribute('aria-hidden', 'true');
    box.appendChild(head);
    img.style.cursor = 'pointer';
    img.title = 'Click to play from here';
    img.addEventListener('click', (e) => {
      const now = timeline(n), a = audioOf(n);
      if (!now || !a) return;
      const r = img.getBoundingClientRect();
      const x = (e.clientX - r.left) / r.width;
      const part = (x - now.left) / (now.right - now.left);
      if (part < 0 || part > 1) return;
      a.currentTime = part * now.seconds;
      a.play().catch(() => {});
    });
  }
  const place = `position:absolute;left:0;top:${img.offsetTop}px;height:${img.clientHeight}px;width:2px;` +
    'background:#b91c1c;pointer-events:none;will-change:transform;';
  const old = heads[n];
  const drawn = old && old.head === head && old.place === place ? old.drawn : null;
  if (drawn === null) head.style.cssText = place + 'display:none';
  return { audio, img, head, line, place, drawn, x0: img.offsetLeft, width: img.clientWidth };
};
const follow = (now) => {
  const fresh = now - looked > 250;
  if (fresh) { looked = now; watch(seedAudio()); }
  for (let n = 1; n <= 4; n++) {
    let h = heads[n];
    if (fresh || (h && !(h.audio.isConnected && h.img.isConnected))) h = heads[n] = lookUp(n);
    if (!h) continue;
    const audio = h.audio;
    stopAtItsEnd(audio);
    const part = Math.min(1, audio.currentTime / h.line.seconds);
    const x = Math.round(h.x0 + h.width * (h.line.left + part * (h.line.right - h.line.left)));
    const drawn = audio.currentTime > 0 && part < 1 ? x : -1;
    if (drawn === h.drawn) continue;
    h.drawn = drawn;
    h.head.style.display = drawn < 0 ? 'none' : 'block';
    h.head.style.transform = `translateX(${x}px)`;
    h.head.dataset.part = part.toFixed(4);
  }
  requestAnimationFrame(follow);
};
requestAnimationFrame(follow);
}"""

# Where time runs in a result's piano roll, for the playhead (read by PAGE_JS).
TIMELINE = ("<div class='roll-timeline' data-left='${value ? value.left : \"\"}' "
            "data-right='${value ? value.right : \"\"}' data-seconds='${value ? value.seconds : \"\"}' "
            "data-seed-end='${value ? value.seed_end : \"\"}' data-end='${value ? value.end : \"\"}'></div>")

# Brings a result (or the new seed after Continue) into view, where the user is looking next.
SCROLL_TO = "() => {{ document.getElementById('{}')?.scrollIntoView({{block: 'center'}}); }}"

# Requests for generation let in at once: the generation itself takes one of the playground's
# slots (--concurrency); the others wait for a slot or for an upload being read, without holding one.
GENERATE_REQUESTS = 16


def api_panel(playground):
    """The HTTP API: ``/generate``, usable with gradio_client by keyword (see the README)."""
    with gr.Row(visible=False):
        inputs = [gr.File(file_types=[".mid", ".midi"]), raw(gr.Textbox(pg.DEFAULT_SEED_NOTES)), RawNumber(1.0),
                  RawNumber(64, precision=0), RawNumber(None, precision=0), RawNumber(None), RawNumber(None, precision=0),
                  RawNumber(None), RawNumber(None), RawNumber(0, precision=0), RawCheckbox(True),
                  RawNumber(0, precision=0), RawNumber(64, precision=0), RawNumber(1.0), raw(gr.Textbox("")),
                  raw(gr.Textbox(None)), RawCheckbox(False), RawNumber(None, precision=0), RawNumber(1.0)]
        outputs = [gr.Audio(label="audio"), gr.Image(label="piano_roll", type="filepath", format="png"),
                   gr.File(label="midi"), gr.Textbox(label="summary")]
        button = gr.Button()

    def generate(midi_file=None, seed_notes=pg.DEFAULT_SEED_NOTES, temperature=1.0, length=64, rng_seed=None,
                 beta=None, top_k=None, top_p=None, tempo_bpm=None, program=0, original_key=True, seed_start=0,
                 seed_count=64, memory=1.0, pins="", scale=None, loop=False, max_copy=None, scale_strength=1.0,
                 request: gr.Request = None):
        """Continue a seed: an uploaded MIDI file (notes seed_start.. of its melody) wins over seed_notes.
        Steering, in the seed's own key: pins ("15:C5 31:G4/4"), scale ("C major", "A minor pentatonic",
        "seed"), loop (end leading back into the seed), max_copy (notes in a row from a training song).
        Returns the audio (MP3), the piano roll (PNG), the MIDI file (seed then continuation) and a summary."""
        result = playground.generate_request(
            midi_file, seed_notes, seed_start, seed_count, client_of(request), temperature=temperature,
            length=length, rng_seed=rng_seed, beta=beta, top_k=top_k, top_p=top_p, tempo_bpm=tempo_bpm,
            program=program, original_key=original_key, memory=memory, pins=pins, scale=scale, loop=loop,
            max_copy=max_copy, scale_strength=scale_strength)
        v = result.variations[0]
        return str(v.audio_path), str(v.roll_path), str(v.midi_path), result.summary

    button.click(user_errors(generate), inputs, outputs, api_name="generate", concurrency_id="generate",
                 concurrency_limit=GENERATE_REQUESTS)


def build(playground):
    """The page (a ``gr.Blocks``) over a ``melody.serve.playground.Playground``."""
    default_seed = pg.seed_from_notes(pg.DEFAULT_SEED_NOTES, "Ode to Joy", playground.encoding())
    with Page(title="Melody playground") as page:
        session = gr.State(pg.new_session(default_seed), time_to_live=SESSION_IDLE_SECONDS)
        gr.Markdown("# Melody playground\nGive the start of a tune, pick how adventurous the model may be, "
                    "and hear an LSTM trained on Pokémon music continue it.")
        checkpoint, soundfont, warnings = model_panel(playground)
        with gr.Row():
            with gr.Column(scale=3):
                seeds = seed_panel(playground, default_seed)
            with gr.Column(scale=2):
                controls = settings_panel()
        summary, compare, outputs = results_panel()
        seed_views, show_seed = wire_seed_events(playground, seeds, session, controls["tempo"],
                                                 controls["program"], soundfont, checkpoint, controls["message"])
        wire_generation(playground, controls, session, checkpoint, soundfont, summary, compare, outputs, seed_views,
                        show_seed, seeds["grid"])

        # A checkpoint trained while the server runs shows up (and is chosen) at the next page load.
        page.load(lambda: (gr.Dropdown(choices=playground.checkpoint_choices(),
                                       value=playground.default_checkpoint().name), checkpoint_warnings(playground)),
                  None, [checkpoint, warnings], api_visibility="private")
        api_panel(playground)
    return page


def parse_args(argv=None):
    env = os.environ
    parser = argparse.ArgumentParser(prog="app.py", description="The melody playground: a web page to draw, "
                                     "upload or type a seed and hear an LSTM continue it.")
    parser.add_argument("--version", action="version", version=f"melody-playground {__version__}")
    parser.add_argument("--host", default=env.get("GRADIO_SERVER_NAME") or env.get("MELODY_HOST") or "127.0.0.1",
                        help="address to serve on (default 127.0.0.1: this machine only; 0.0.0.0 for your "
                             "network); also $GRADIO_SERVER_NAME or $MELODY_HOST")
    parser.add_argument("--port", type=int, default=None,
                        help=f"port (default {DEFAULT_PORT}, or the next free one); also $GRADIO_SERVER_PORT or "
                             "$MELODY_PORT, which like --port must be free")
    parser.add_argument("--share", action="store_true", help="also make a temporary public gradio.live link")
    parser.add_argument("--concurrency", type=int, default=2, help="generations served at once (default 2)")
    parser.add_argument("--allowed-host", action="append", metavar="NAME",
                        default=[n for n in (env.get("MELODY_ALLOWED_HOSTS") or "").split(",") if n.strip()],
                        help="a host name the server answers to besides localhost, its IP addresses and --host "
                             "(repeat it for more; *.example.com allows the subdomains); also $MELODY_ALLOWED_HOSTS, "
                             "comma-separated. Requests for any other name are refused (DNS rebinding).")
    parser.add_argument("--storage-mb", type=int, default=int(env.get("MELODY_STORAGE_MB") or 1024),
                        help="most disk space for uploads and results, in MB; the oldest go first "
                             "(default 1024; also $MELODY_STORAGE_MB)")
    args = parser.parse_args(argv)
    chosen = args.port if args.port is not None else (env.get("GRADIO_SERVER_PORT") or env.get("MELODY_PORT"))
    try:
        args.port = int(chosen) if chosen not in (None, "") else None
    except ValueError:
        parser.error(f"the port must be a number, got {chosen!r}")
    return args


def pick_port(host, port):
    """The port to serve on: a port that was asked for must be free; the default may move on to the
    next free one, which is said out loud."""
    if port is not None:
        if port != 0 and not server.port_is_free(host, port):
            raise MelodyError(f"Port {port} on {host} is in use: stop the program using it, or choose another "
                              "port with --port.")
        return port
    found = server.free_port(host, DEFAULT_PORT)
    if found is None:
        raise MelodyError(f"Ports {DEFAULT_PORT} to {DEFAULT_PORT + 20} on {host} are all in use: choose one with --port.")
    if found != DEFAULT_PORT:
        print(f"Port {DEFAULT_PORT} is in use: serving on port {found} instead.", flush=True)
    return found


def start(page, playground, args, expire_every_seconds=60.0):
    """Launch the page (without blocking) behind ``melody.serve.server.RequestGuard``; returns its address."""
    from starlette.middleware import Middleware

    port = pick_port(args.host, args.port)
    STORAGE.max_bytes = args.storage_mb * 2**20
    server.random_upload_folders()
    page.queue(default_concurrency_limit=args.concurrency, max_size=64)
    threading.Thread(target=playground.warm_up, daemon=True).start()
    _, local_url, share_url = page.launch(
        css=PAGE_CSS, js=PAGE_JS,
        server_name=args.host, server_port=port, share=args.share, max_file_size=f"{server.MAX_UPLOAD_BYTES >> 20}mb",
        footer_links=["api"], enable_monitoring=False, quiet=True, prevent_thread_lock=True,
        state_session_capacity=SESSION_CAPACITY,
        app_kwargs={"middleware": [Middleware(server.RequestGuard, storage=STORAGE, allowed_hosts=server.served_hosts(
            args.host, args.allowed_host, args.share))]})
    server.keep_expiring_sessions(page.server_app, SESSION_IDLE_SECONDS, SESSION_CAPACITY, expire_every_seconds)
    print(f"Melody playground: {local_url}" + (f" and {share_url}" if share_url else "")
          + f"  (model {playground.default_checkpoint().name}; sound: {playground.renderer(0).describe()}; "
          f"files in {STORAGE.root}, at most {args.storage_mb} MB)", flush=True)
    return local_url


def serve(page, playground, args):
    """Launch the page and block until Ctrl-C or SIGTERM; then stop and delete this server's files."""
    # The handler only appends to a list: one that took a lock (Event.set) could find it held by the
    # very wait it interrupted, and the server would never stop.
    stop = []
    for sig in (signal.SIGTERM, signal.SIGINT):  # before the address is printed: a stop may follow at once
        signal.signal(sig, lambda signum, frame: stop.append(signum))
    start(page, playground, args)
    while page.is_running and not stop:
        time.sleep(0.2)  # a signal ends the sleep at once
    print("Stopping: deleting this server's uploads and results.", flush=True)
    page.close(verbose=False)
    playground.close()
    STORAGE.close()


def make_playground(concurrency=2):
    """The server's playground: generation in ``concurrency`` worker processes (see ``melody.serve.workers``)."""
    return pg.Playground(voices=concurrency, storage=STORAGE, isolated=True)


def main(argv=None):
    """Serve the playground until Ctrl-C or SIGTERM (``python app.py``, ``melody-playground``)."""
    try:
        _main(argv)
    except MelodyError as exc:
        sys.exit(f"error: {exc}")


def _main(argv):
    args = parse_args(argv)
    server.one_line_log()
    import torch

    torch.set_num_threads(1)  # one core per request: requests run side by side instead
    playground, page = PLAYGROUND, demo
    if args.concurrency != playground.voices:
        playground = make_playground(args.concurrency)
        page = build(playground)
    serve(page, playground, args)


def _build_page():
    """The module's page, for `python app.py` and Gradio's reload mode (`gradio app.py`)."""
    try:
        playground = make_playground()
        return playground, build(playground)
    except MelodyError as exc:  # e.g. no checkpoint at all: one line, not a traceback
        sys.exit(f"error: {exc}")


PLAYGROUND, demo = _build_page()
