"""The melody playground page: draw, upload or type a seed, then hear an LSTM continue it.

    python app.py                 # http://127.0.0.1:7860
    python app.py --port 8000 --host 0.0.0.0 --share

Layout and wiring only: the work lives in melody.playground.
"""
import argparse
import functools
import os
import threading
from pathlib import Path

import gradio as gr
import torch

from melody import MelodyError
from melody import playground as pg
from melody.web.grid import piano_grid

MAX_UPLOAD = "10mb"
EXAMPLES = [
    ["C4 D4 E4 F4 G4 A4 B4 C5", "C major scale"],
    ["A3 B3 C4 D4 E4 F4 G#4 A4", "A harmonic minor scale"],
    ["C4 D4 E4 G4 A4 C5 A4 G4 E4 D4", "pentatonic line"],
    ["C4 E4 G4 C5 G4 E4 F4 A4 C5 F5 C5 A4", "arpeggios"],
    [pg.DEFAULT_SEED_NOTES, "Ode to Joy"],
    ["C4 C4 G4 G4 A4 A4 G4 F4 F4 E4 E4 D4 D4 C4", "Twinkle, Twinkle"],
    ["G4 A4 B4 G4 G4 A4 B4 G4 B4 C5 D5 B4 C5 D5", "Frère Jacques"],
    ["A4 C5 D5 E5 F5 E5 D5 B4 G4 A4 B4 C5 A4 A4 G#4 A4 B4 G#4 E4", "Greensleeves"],
]


def user_errors(fn):
    """Show a MelodyError (bad file, note or setting) as a message on the page, not a traceback."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except MelodyError as exc:
            raise gr.Error(str(exc), title="Cannot do that") from None

    return wrapper


def build(playground):
    default_seed = pg.seed_from_notes(pg.DEFAULT_SEED_NOTES, "Ode to Joy")
    checkpoints = playground.checkpoint_choices()
    fonts = [(f.label, i) for i, f in enumerate(playground.soundfonts)] or [("built-in synth", 0)]
    instruments = [(f"{n}: {pg.instrument_name(n)}", n) for n in range(128)]

    def show_seed(session):
        seed = session["seed"]
        return session, playground.seed_preview(seed), f"**Seed:** {seed.describe()}"

    # Gradio keeps a copy of every result it serves: delete copies older than an hour, every hour.
    with gr.Blocks(title="Melody playground", delete_cache=(3600, 3600)) as demo:
        session = gr.State(pg.new_session(default_seed))
        gr.Markdown("# Melody playground\nGive the start of a tune, pick how adventurous the model may be, "
                    "and hear an LSTM trained on Pokémon music continue it.")
        with gr.Row():
            checkpoint = gr.Dropdown(checkpoints, value=playground.default_checkpoint().name, label="Model checkpoint",
                                     scale=3, elem_id="checkpoint")
            soundfont = gr.Dropdown(fonts, value=0, label="Soundfont", scale=2, elem_id="soundfont")
        gr.Markdown(f"Sound: {playground.renderer(0).describe()}.", elem_id="sound-status")
        with gr.Row():
            with gr.Column(scale=3):
                with gr.Tabs():
                    with gr.Tab("Draw", id="draw"):
                        grid = piano_grid(default_seed.original_pitches(), elem_id="grid")
                        with gr.Row():
                            hear = gr.Button("Hear the drawn seed", size="sm", elem_id="hear-seed")
                        seed_audio = gr.Audio(label="Seed alone", interactive=False, elem_id="seed-audio")
                    with gr.Tab("Upload MIDI", id="upload"):
                        upload = gr.File(label="A .mid or .midi file", file_types=[".mid", ".midi"], elem_id="upload")
                        upload_info = gr.Markdown(elem_id="upload-info")
                        with gr.Row():
                            seed_start = gr.Number(0, label="Start at note", precision=0, minimum=0)
                            seed_count = gr.Number(64, label="Number of notes", precision=0, minimum=1,
                                                   maximum=pg.MAX_SEED_NOTES)
                            use_part = gr.Button("Use this part as the seed")
                    with gr.Tab("Type notes", id="type"):
                        notes = gr.Textbox(label="Notes", placeholder="C4 D4 E4 G4   or   60 62 64 67",
                                           elem_id="notes")
                        use_notes = gr.Button("Use these notes", elem_id="use-notes")
                        gr.Examples([[e[0]] for e in EXAMPLES], [notes], label="Examples (click one)",
                                    example_labels=[e[1] for e in EXAMPLES], cache_examples=False)
                seed_text = gr.Markdown(f"**Seed:** {default_seed.describe()}", elem_id="seed-text")
                seed_roll = gr.Image(playground.seed_preview(default_seed), label="Seed", interactive=False,
                                     elem_id="seed-roll", height=260)
                undo = gr.Button("Undo seed", size="sm", elem_id="undo-seed")
            with gr.Column(scale=2):
                temperature = gr.Slider(0.0, 2.0, 1.0, step=0.05, label="Temperature",
                                        info="lower = safer, higher = wilder; 0 = always the likeliest note")
                length = gr.Slider(1, pg.MAX_LENGTH_NOTES, 64, step=1, label="Length (notes)")
                variations = gr.Slider(1, pg.MAX_VARIATIONS, 1, step=1, label="Variations")
                with gr.Accordion("Advanced", open=False):
                    rule = gr.Radio(["temperature", "softmax base (beta)"], value="temperature", label="Sampling rule")
                    beta = gr.Slider(0.5, 30, 15, step=0.5, label="beta (the original used 15)")
                    top_k = gr.Slider(0, 37, 0, step=1, label="top-k (0 = off)")
                    top_p = gr.Slider(0.05, 1.0, 1.0, step=0.05, label="top-p (1 = off)")
                    memory = gr.Slider(0.0, 1.0, 0.5, step=0.05, label="Song memory",
                                       info="how often the melody's own phrases come back: 1 = as much as in the "
                                            "training songs, 0 = never on purpose")
                    with gr.Row():
                        rng_seed = gr.Number(1, label="Random seed", precision=0, elem_id="rng-seed")
                        fresh = gr.Checkbox(True, label="New random seed each time")
                    tempo = gr.Slider(40, 240, 120, step=1, label="Tempo (BPM)")
                    program = gr.Dropdown(instruments, value=0, label="Instrument (General MIDI)")
                    original_key = gr.Checkbox(True, label="Return to the seed's original key")
                    show_probs = gr.Checkbox(True, label="Shade the model's probabilities in the piano roll")
                generate = gr.Button("Generate", variant="primary", elem_id="generate")
        summary = gr.Textbox(label="Summary", lines=3, interactive=False, elem_id="summary")
        outputs = []
        for number in range(1, pg.MAX_VARIATIONS + 1):
            with gr.Group(visible=number == 1) as group:
                audio = gr.Audio(label=f"Variation {number}: seed then continuation", interactive=False,
                                 elem_id=f"audio-{number}")
                roll = gr.Image(label=f"Variation {number}: piano roll", interactive=False, elem_id=f"roll-{number}")
                with gr.Row():
                    histogram = gr.Image(label="Pitch classes", interactive=False, height=220)
                    midi = gr.File(label="MIDI (seed then continuation)", elem_id=f"midi-{number}")
                    keep = gr.Button(f"Continue from variation {number}", elem_id=f"continue-{number}")
            outputs.append((group, audio, roll, histogram, midi, keep))

        # --- seed events --------------------------------------------------------------------------
        seed_views = [session, seed_roll, seed_text]

        def from_grid(value, state):
            try:
                return show_seed(pg.with_seed(state, pg.seed_from_grid(value), live=True))
            except MelodyError:  # an empty grid while drawing is not an error, just no seed yet
                return state, gr.skip(), "**Seed:** the grid is empty: draw some notes."

        grid.change(from_grid, [grid, session], seed_views, trigger_mode="always_last", show_progress="hidden",
                    api_visibility="private")
        hear.click(user_errors(lambda v, t, p, f: playground.seed_audio(pg.seed_from_grid(v), t, p, f)),
                   [grid, tempo, program, soundfont], seed_audio, api_visibility="private")

        def inspect_upload(path, state, start, count):
            if not path:
                return state, gr.skip(), gr.skip(), ""
            seed, melody = pg.seed_from_midi(path, start, count)
            return *show_seed(pg.with_seed(state, seed)), f"**{Path(path).name}:** {melody.summary()}."

        upload.upload(user_errors(inspect_upload), [upload, session, seed_start, seed_count],
                      [*seed_views, upload_info], api_visibility="private")
        use_part.click(user_errors(inspect_upload), [upload, session, seed_start, seed_count],
                       [*seed_views, upload_info], api_visibility="private")
        typed = user_errors(lambda text, state: show_seed(pg.with_seed(state, pg.seed_from_notes(text), live=True)))
        use_notes.click(typed, [notes, session], seed_views, api_visibility="private")
        notes.submit(typed, [notes, session], seed_views, api_visibility="private")

        def while_typing(text, state):  # follow the text as it is typed (or an example is clicked), quietly
            try:
                return typed(text, state)
            except gr.Error:
                return state, gr.skip(), gr.skip()

        notes.change(while_typing, [notes, session], seed_views, trigger_mode="always_last", show_progress="hidden",
                     api_visibility="private")
        undo.click(user_errors(lambda state: show_seed(pg.undo_seed(state))), session, seed_views,
                   api_visibility="private")

        # --- generation ---------------------------------------------------------------------------
        def run(state, ckpt, font, temp, n, k_variations, how, b, k, p, mem, rng, new_rng, bpm, prog, back, shade):
            settings = pg.Settings(length=n, temperature=temp, beta=b if how != "temperature" else None,
                                   top_k=k or None, top_p=p, rng_seed=None if new_rng else rng, tempo_bpm=bpm,
                                   program=prog, original_key=back, variations=k_variations,
                                   show_probabilities=shade, memory=mem)
            result = playground.generate(state["seed"], settings, checkpoint=ckpt, soundfont=font)
            state = dict(state, results=[v.model_pitches for v in result.variations], results_seed=state["seed"])
            updates = [state, result.settings.rng_seed, result.summary]
            for number in range(len(outputs)):
                if number < len(result.variations):
                    v = result.variations[number]
                    updates += [gr.Group(visible=True), str(v.audio_path), str(v.roll_path),
                                str(v.histogram_path), str(v.midi_path)]
                else:
                    updates += [gr.Group(visible=False), None, None, None, None]
            return updates

        generate.click(user_errors(run), [session, checkpoint, soundfont, temperature, length, variations, rule, beta,
                                          top_k, top_p, memory, rng_seed, fresh, tempo, program, original_key,
                                          show_probs],
                       [session, rng_seed, summary, *[c for group in outputs for c in group[:5]]],
                       api_visibility="private", concurrency_id="generate")

        for number, (*_parts, keep) in enumerate(outputs):
            def keep_going(state, number=number):
                if number >= len(state.get("results", [])):
                    raise MelodyError("Generate first: there is no result to continue from yet.")
                # the seed these results continued, even if another seed was set since
                longer = pg.continue_from(state["results_seed"], state["results"][number])
                return show_seed(pg.with_seed(state, longer))

            keep.click(user_errors(keep_going), session, seed_views, api_visibility="private")

        # A checkpoint trained while the server runs shows up (and is chosen) at the next page load.
        demo.load(lambda: gr.Dropdown(choices=playground.checkpoint_choices(), value=playground.default_checkpoint().name),
                  None, checkpoint, api_visibility="private")

        # --- the HTTP API: /generate, usable with gradio_client by keyword -------------------------
        with gr.Row(visible=False):
            api_inputs = [gr.File(file_types=[".mid", ".midi"]), gr.Textbox(pg.DEFAULT_SEED_NOTES), gr.Number(1.0), gr.Number(64, precision=0),
                          gr.Number(None, precision=0), gr.Number(None), gr.Number(None, precision=0), gr.Number(None),
                          gr.Number(None), gr.Number(0, precision=0), gr.Checkbox(True), gr.Number(0, precision=0),
                          gr.Number(64, precision=0), gr.Number(0.5)]
            api_outputs = [gr.Audio(label="audio"), gr.Image(label="piano_roll", type="filepath", format="png"),
                           gr.File(label="midi"), gr.Textbox(label="summary")]
            api_button = gr.Button()

        def api_generate(midi_file=None, seed_notes=pg.DEFAULT_SEED_NOTES, temperature=1.0, length=64, rng_seed=None, beta=None,
                         top_k=None, top_p=None, tempo_bpm=None, program=0, original_key=True, seed_start=0,
                         seed_count=64, memory=0.5):
            """Continue a seed: an uploaded MIDI file (notes seed_start.. of its melody) wins over seed_notes.
            Returns the audio (MP3), the piano roll (PNG), the MIDI file (seed then continuation) and a summary."""
            seed = pg.seed_from_midi(midi_file, seed_start, seed_count)[0] if midi_file else pg.seed_from_notes(seed_notes or "")
            tempo = tempo_bpm or min(max(seed.tempo_bpm, 40.0), 240.0)  # default: the file's own tempo
            settings = pg.Settings(length=length, temperature=temperature, beta=beta, top_k=top_k, top_p=top_p,
                                   rng_seed=rng_seed, tempo_bpm=tempo, program=program, original_key=original_key,
                                   memory=memory, histogram=False)  # the API returns no histogram: not drawn
            result = playground.generate(seed, settings)
            v = result.variations[0]
            return str(v.audio_path), str(v.roll_path), str(v.midi_path), result.summary

        api_button.click(user_errors(api_generate), api_inputs, api_outputs, api_name="generate",
                         concurrency_id="generate")
    return demo


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--host", default=os.environ.get("MELODY_HOST", "127.0.0.1"),
                        help="address to serve on (default 127.0.0.1: this machine only; 0.0.0.0 for your network)")
    parser.add_argument("--port", type=int, default=int(os.environ.get("MELODY_PORT", "7860")))
    parser.add_argument("--share", action="store_true", help="also make a temporary public gradio.live link")
    parser.add_argument("--concurrency", type=int, default=2, help="generations served at once (default 2)")
    return parser.parse_args(argv)


def main():
    args = parse_args()
    torch.set_num_threads(1)  # one core per request: requests run side by side instead
    playground = pg.Playground(voices=args.concurrency)
    demo = build(playground)
    demo.queue(default_concurrency_limit=args.concurrency, max_size=64)
    threading.Thread(target=playground.warm_up, daemon=True).start()
    print(f"Melody playground: http://{args.host}:{args.port}  (model {playground.default_checkpoint().name}; "
          f"sound: {playground.renderer(0).describe()})", flush=True)
    demo.launch(server_name=args.host, server_port=args.port, share=args.share, max_file_size=MAX_UPLOAD,
                footer_links=["api"])


if __name__ == "__main__":
    try:
        main()
    except MelodyError as exc:  # e.g. no checkpoint at all: one line, not a traceback
        raise SystemExit(f"error: {exc}") from None
