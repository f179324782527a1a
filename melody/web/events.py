"""The playground page's event wiring: what each button, upload, text box and the grid does.

``melody.web.page`` lays the components out and hands them here (``wire_seed_events``,
``wire_generation``). A handler with many inputs takes them as one dict keyed by component (Gradio
passes that when an event's ``inputs`` is a set), so no list of names has to match its parameters.
The work lives elsewhere: melody.serve.playground (generation), melody.serve.seed_sources (seeds,
Undo); mistakes are answered with ``melody.web.answers``. Importing this module makes nothing.
"""
import functools
import logging
from pathlib import Path

import gradio as gr

from ..errors import MelodyError
from ..serve import playground as pg
from ..serve.seed_sources import grid_meter, seed_from_link, typed_changes
from ..settings import LIMITS
from ..settings import number as checked_number  # `number` names loop variables here
from .answers import beside, plain, warning
from .grid import GRID_STEPS
from .link import make_link, read_link

log = logging.getLogger("melody")

# Requests for generation let in at once: the generation itself takes one of the playground's
# slots (--concurrency); the others wait for a slot or for an upload being read, without holding one.
GENERATE_REQUESTS = 16

# Brings a result (or the new seed after Continue) into view, where the user is looking next.
SCROLL_TO = "() => {{ document.getElementById('{}')?.scrollIntoView({{block: 'center'}}); }}"

# The controls of ``melody.web.page.settings_panel`` (its keys) that Generate reads.
SETTING_CONTROLS = ("temperature", "length", "variations", "rule", "beta", "top_k", "top_p", "memory", "rng_seed",
                    "fresh", "tempo", "program", "original_key", "show_probs", "pins", "scale", "scale_strength",
                    "loop", "max_copy")


def client_of(request):
    """The requester's address (what the upload reader's limits count by, whatever session id it sends)."""
    client = getattr(request, "client", None) if request is not None else None
    return getattr(client, "host", None)


def seed_line(seed):
    """The "Seed:" line: what the seed is, its notes as typed (plain text: a length ``*N`` is no Markdown)."""
    return f"**Seed:** {plain(seed.describe())}"


def seed_views_of(playground, state):
    """What the page shows of a session's seed: the state, its piano roll, its description, the Undo
    button (usable when there is a seed to go back to), the seed's message (cleared), the grid,
    which shows the seed whatever its source (its notes with their lengths; long seeds scroll), and
    the message under Generate (cleared: a warning there was about a seed that is gone)."""
    value = pg.grid_value(state["seed"])
    grid = gr.HTML(value=value, steps=grid_steps(value))
    return (state, playground.seed_preview(state["seed"]), seed_line(state["seed"]),
            gr.Button(interactive=bool(state["history"])), "", grid, "")


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


def settings_from(v, grid_value):
    """The generation's ``pg.Settings`` from the values of the settings panel's controls (``v``, by the
    panel's names) and the pins drawn on the grid."""
    pins = " ".join(filter(None, [pg.grid_pins(grid_value), v["pins"]]))  # a note pinned on the grid and typed: refused
    return pg.Settings(length=v["length"], temperature=v["temperature"],
                       beta=v["beta"] if v["rule"] != "temperature" else None, top_k=v["top_k"] or None,
                       top_p=v["top_p"], rng_seed=None if v["fresh"] else v["rng_seed"], tempo_bpm=v["tempo"],
                       program=v["program"], original_key=v["original_key"], variations=v["variations"],
                       show_probabilities=v["show_probs"], memory=v["memory"], pins=pins, scale=v["scale"] or None,
                       scale_strength=v["scale_strength"], loop=v["loop"], max_copy=v["max_copy"] or None)


def audio_updates(state, result, outputs):
    """Generate's first stage, the audio, to play at once. Gradio rebuilds a component for each update
    it is given, even gr.skip() (about 1 ms for a picture or a file list, 25-30 ms for all of them), so
    the audio goes out with as few as possible: groups shown or hidden only when the number of
    variations changes (the session remembers how many are shown); a shown result's old pictures stay
    until the new ones come (no flicker), its old downloads and every hidden result's content are
    cleared (cheap)."""
    count = len(result.variations)
    same = count == state.get("shown", 1)
    state = dict(state, shown=count)
    updates = [state, result.settings.rng_seed, gr.skip(), "", gr.skip() if same else gr.Button(visible=count > 1)]
    for number in range(len(outputs)):
        group = gr.skip() if same else gr.Group(visible=number < count)
        if number < count:
            updates += [group, str(result.variations[number].audio_path), gr.skip(), gr.skip(), None, None, gr.skip()]
        else:
            updates += [group, None, None, None, None, None, gr.skip()]
        updates += [gr.skip(), gr.skip()]  # Continue and Play alone: usable when the result is whole
    return state, updates


def whole_updates(state, result, outputs):
    """Generate's last stage: the pictures, the files and the summary; Continue and Play alone usable."""
    count = state["shown"]  # as many as the first stage showed
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
    return updates


def wire_generation(playground, c, session, checkpoint, soundfont, summary, compare, outputs, seed_views, show_seed,
                    grid):
    """Generate (the settings panel's controls ``c``, the session's seed, the grid's pins) into the
    results' ``outputs``; autoplay and loop; Continue from a result."""
    inputs = {session, checkpoint, soundfont, grid, *(c[name] for name in SETTING_CONTROLS)}

    def run(values):  # each input's value, by component
        settings = settings_from({name: values[c[name]] for name in SETTING_CONTROLS}, values[grid])
        # The audio first, to play at once; then the pictures, the files and the summary.
        stages = playground.generate_stages(pg.usable_seed(values[session]), settings, checkpoint=values[checkpoint],
                                            soundfont=values[soundfont], audio_first=True)
        state, updates = audio_updates(values[session], next(stages), outputs)
        yield updates
        *_, result = stages
        yield whole_updates(state, result, outputs)

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
    wire_continue(playground, outputs, session, checkpoint, seed_views, show_seed)


def wire_continue(playground, outputs, session, checkpoint, seed_views, show_seed):
    """Each result's "Continue from variation N": its continuation, after the seed it continued, becomes the seed."""
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


# Copies the page's address (its fragment holds the state) and says so on the button for a moment.
COPY_LINK = """() => {
  const button = document.getElementById('copy-link');
  const said = (text) => { if (button) { const was = button.textContent; button.textContent = text;
    setTimeout(() => { button.textContent = was; }, 1500); } };
  if (navigator.clipboard) navigator.clipboard.writeText(location.href).then(() => said('Link copied'), () => said('Copy the address bar'));
  else said('Copy the address bar');
}"""

# The settings panel's numeric controls (see SETTING_CONTROLS) and the limits that check a link's values.
LINK_NUMBERS = {"temperature": "temperature", "length": "length", "variations": "variations", "beta": "beta",
                "top_k": "top_k", "top_p": "top_p", "memory": "memory", "rng_seed": "rng_seed", "tempo": "tempo_bpm",
                "program": "program", "scale_strength": "scale_strength", "max_copy": "max_copy"}
LINK_FLAGS = ("fresh", "original_key", "show_probs", "loop")
LINK_TEXTS = ("pins", "scale")
RULES = ("temperature", "softmax base (beta)")


def link_of(state, values):
    """The fragment for a session's seed and the settings' ``values`` (by control name, plus "checkpoint")."""
    seed = state["seed"]
    notes = seed.original_notes()
    position = seed.bar_position(seed.start_step) if notes else 0
    return make_link(notes, seed.time_signature(), position, values)


def settings_of_link(settings, checkpoints):
    """The controls' values a link asks for, each checked: ``(values by control name, what was refused)``."""
    values, refused = {}, []
    for name, value in settings.items():
        try:
            if name in LINK_NUMBERS:
                values[name] = checked_number(value, LINK_NUMBERS[name])
            elif name in LINK_FLAGS and isinstance(value, bool):
                values[name] = value
            elif name in LINK_TEXTS and isinstance(value, str) and len(value) <= 200:
                values[name] = value
            elif name == "rule" and value in RULES:
                values[name] = value
            elif name == "checkpoint" and value in checkpoints:
                values[name] = value
            else:
                refused.append(name)
        except MelodyError:
            refused.append(name)
    return values, refused


def wire_link(playground, c, session, checkpoint, seed_views, show_seed):
    """The page's state in its address: every change of the seed or a setting rewrites the fragment
    (``melody.web.link``), so a reload or the copied link opens the page as it was (the fragment the
    page was opened with is read once, by page.js, before anything rewrites it); *Copy link* copies it."""
    names = [n for n in SETTING_CONTROLS if n in LINK_NUMBERS or n in LINK_FLAGS or n in LINK_TEXTS or n == "rule"]
    controls = [c[n] for n in names]
    fragment = gr.Textbox(visible=False, elem_id="link-fragment")

    defaults = {name: control.value for name, control in zip(names, controls)}  # left out of the link

    def written(state, ckpt, *values):
        changed = {name: value for name, value in zip(names, values) if value != defaults[name]}
        return link_of(state, {**changed, "checkpoint": ckpt})

    gr.on([session.change, checkpoint.change, *[control.input for control in controls]], written,
          [session, checkpoint, *controls], fragment, show_progress="hidden", api_visibility="private",
          trigger_mode="always_last")
    fragment.change(None, fragment, None, js="(h) => { if (h) history.replaceState(null, '', '#' + h); }",
                    api_visibility="private")
    c["copy_link"].click(None, None, None, js=COPY_LINK, api_visibility="private")

    def restore(text, state, ckpt):
        unchanged = [gr.skip()] * (len(seed_views) + len(controls) + 1)
        if not text:
            return unchanged
        try:
            notes, meter, _, settings = read_link(text)
            values, refused = settings_of_link(settings, [name for _, name in playground.checkpoint_choices()])
            seed = seed_from_link(notes, meter, playground.encoding(values.get("checkpoint", ckpt)))
        except MelodyError as exc:  # the page starts as usual, and says why
            log.info("user error in a link: %s", exc)
            unchanged[len(seed_views) - 1] = warning(exc)  # the message under Generate, the last of the seed's views
            return unchanged
        views = list(show_seed(pg.with_seed(state, seed)))
        views[-1] = warning(f"Part of this link was not usable ({', '.join(refused)}): those settings are as "
                            "usual.") if refused else ""
        return (*views, *[values.get(n, gr.skip()) for n in names], values.get("checkpoint", gr.skip()))

    return {"fn": restore, "inputs": [fragment, session, checkpoint],
            "outputs": [*seed_views, *controls, checkpoint],
            "js": "(text, state, ckpt) => [window.melodyOpenedWith || '', state, ckpt]"}
