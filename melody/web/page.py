"""The playground page's layout: its panels of Gradio components, and ``build(playground)``, which
makes the page (a ``gr.Blocks``).

The page's style and script are page.css and page.js beside this module (``style_and_script``, given
to Gradio at launch); melody.web.events wires the components; melody.web.launch starts the server.
The work lives elsewhere: melody.serve.playground (generation, the HTTP API's request),
melody.settings (every range and default). Importing this module makes nothing: no storage, no
playground, no page.
"""
import functools
from pathlib import Path

import gradio as gr

from ..serve import playground as pg
from ..settings import BETA_SUGGESTED, LIMITS, TIME_LIMITS
from .answers import Page, user_errors
from .events import GENERATE_REQUESTS, client_of, seed_line, wire_generation, wire_link, wire_seed_events
from .grid import piano_grid

HERE = Path(__file__).resolve().parent
SESSION_IDLE_SECONDS = TIME_LIMITS.session_idle  # a session's page state is dropped after this long without a request
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
            grid = piano_grid(pg.grid_value(default_seed), elem_id="grid", config=playground.encoding(),
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
    c["temperature"] = slider("temperature", elem_id="temperature", info="lower = safer, higher = wilder; 0 = always the likeliest note")
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
    c["copy_link"] = gr.Button("Copy link", elem_id="copy-link", size="sm", variant="secondary")
    with gr.Row():
        c["autoplay"] = gr.Checkbox(True, label="Play the first result as soon as it is ready", elem_id="autoplay")
        c["loop_playback"] = gr.Checkbox(False, label="Loop playback", elem_id="loop-playback")
    return c


FILES_MIN_WIDTH = 260  # px: on a phone each download gets a line of its own, wide enough for its name
# Where time runs in a result's piano roll, for the playhead (read by page.js).
TIMELINE = ("<div class='roll-timeline' data-left='${value ? value.left : \"\"}' "
            "data-right='${value ? value.right : \"\"}' data-seconds='${value ? value.seconds : \"\"}' "
            "data-seed-end='${value ? value.seed_end : \"\"}' data-end='${value ? value.end : \"\"}'></div>")


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


def api_panel(playground):
    """The HTTP API: ``/generate`` and ``/regenerate``, usable with gradio_client by keyword (see the README)."""
    d = {name: limit.default for name, limit in LIMITS.items()}  # the defaults every surface shares
    with gr.Row(visible=False):
        inputs = [gr.File(file_types=[".mid", ".midi"]), raw(gr.Textbox(pg.DEFAULT_SEED_NOTES)),
                  RawNumber(d["temperature"]), RawNumber(d["length"], precision=0), RawNumber(None, precision=0),
                  RawNumber(None), RawNumber(None, precision=0), RawNumber(None), RawNumber(None),
                  RawNumber(d["program"], precision=0), RawCheckbox(True), RawNumber(d["seed_start"], precision=0),
                  RawNumber(d["seed_count"], precision=0), RawNumber(d["memory"]), raw(gr.Textbox("")),
                  raw(gr.Textbox(None)), RawCheckbox(False), RawNumber(None, precision=0), RawNumber(d["scale_strength"])]
        outputs = [gr.Audio(label="audio"), gr.Image(label="piano_roll", type="filepath", format="png"),
                   gr.File(label="midi"), gr.Textbox(label="summary")]
        button = gr.Button()

    def generate(midi_file=None, seed_notes=pg.DEFAULT_SEED_NOTES, temperature=d["temperature"], length=d["length"],
                 rng_seed=None, beta=None, top_k=None, top_p=None, tempo_bpm=None, program=d["program"],
                 original_key=True, seed_start=d["seed_start"], seed_count=d["seed_count"], memory=d["memory"], pins="",
                 scale=None, loop=False, max_copy=None, scale_strength=d["scale_strength"],
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

    with gr.Row(visible=False):
        again_inputs = [raw(gr.Textbox("")), RawNumber(d["start_bar"], precision=0), RawNumber(d["end_bar"], precision=0),
                        RawNumber(None, precision=0), RawNumber(d["temperature"]), RawNumber(None),
                        RawNumber(d["program"], precision=0)]
        again_outputs = [gr.Textbox(label="notes"), gr.Audio(label="audio"), gr.File(label="midi")]
        again = gr.Button()

    def regenerate(notes="", start_bar=d["start_bar"], end_bar=d["end_bar"], rng_seed=None,
                   temperature=d["temperature"], tempo_bpm=None, program=d["program"]):
        """Redo bars of a tune: notes is the whole tune as typed notes ("C4/4 D4/8 E4/8 r/4 G4/2 ..."); the
        bars start_bar .. end_bar - 1 (0 = the bar of its first note) get new notes that lead into the
        bars after them, the rest stays. Returns the new tune as typed notes, its audio (MP3) and MIDI file."""
        made = playground.regenerate_request(notes, start_bar, end_bar, rng_seed, temperature, tempo_bpm, program)
        return made.notes, str(made.audio_path), str(made.midi_path)

    again.click(user_errors(regenerate), again_inputs, again_outputs, api_name="regenerate",
                concurrency_id="generate", concurrency_limit=GENERATE_REQUESTS)


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
        restore = wire_link(playground, controls, session, checkpoint, seed_views, show_seed)
        page.load(lambda: (gr.Dropdown(choices=playground.checkpoint_choices(),
                                       value=playground.default_checkpoint().name), checkpoint_warnings(playground)),
                  None, [checkpoint, warnings], api_visibility="private").then(
            **restore, show_progress="hidden", api_visibility="private")  # a link opened: the page as it was
        api_panel(playground)
    return page


def style_and_script():
    """The page's own CSS and JavaScript, read from page.css and page.js: Gradio takes them at launch
    (``page.launch(**style_and_script(), ...)``)."""
    return {"css": (HERE / "page.css").read_text(encoding="utf-8"),
            "js": (HERE / "page.js").read_text(encoding="utf-8").strip()}
