"""Latency of what a user feels, on the CPU: each stage of a Generate click for a 32-note seed and
256 generated notes (``--length``) with the default checkpoint, the whole request through the HTTP
API, the generation overhead ratio, the original write-up's network for comparison, and start-up time.

    .venv/bin/python bench/latency.py [--runs 30] [--length 256] [--skip-api] [--skip-original]

``--length 72`` measures a continuation of about 16 bars with the rhythm checkpoint (its bars hold
4.5 notes); the JSON says how many bars the continuations span.

Prints JSON: median and p95 in milliseconds per stage, the machine, and the settings.
"""
import argparse
import json
import tempfile
from pathlib import Path

import httpx
import numpy as np
import torch
from common import POKEMON, machine, summary, timed

from app_process import start_app, stop_app  # isort: skip  (tests/, put on the path by common)
from original import OriginalLSTM, generate_eagerly

from melody import load_model, melody_to_midi
from melody.generation.sampling import generate
from melody.serve import playground as pg
from melody.serve.plots import piano_roll_figure, pitch_class_figure, save_piano_roll, save_png
from melody.serve.render import Renderer, encode_audio

SEED_NOTES = 32


def upload_file():
    """A Pokémon-size MIDI file: the median-size Pokémon file when ../shared is there, else one built here."""
    if POKEMON.is_dir():
        files = sorted(POKEMON.glob("*.mid"), key=lambda p: p.stat().st_size)
        return files[len(files) // 2]
    from midi_factory import write_notes

    path = Path(tempfile.mkdtemp()) / "song.mid"
    lead = [(60 + (i * 7) % 19, i * 0.5, 0.5) for i in range(600)]
    bass = [(36 + i % 7, i, 1.0) for i in range(300)]
    return write_notes(path, lead, extra_tracks=[(bass, 33, False)])


def rest_generate(http, notes, length, rng_seed):
    """One Generate through Gradio's REST API as ``curl`` would make it (see the README): start the job,
    read its event stream to the result, download the three files. Returns the summary text.

    gradio_client's own figure is above this one by the 50 ms its result loop sleeps between polls
    (``time.sleep(0.05)`` in ``gradio_client.utils.stream_sse_v1plus``), a cost of that client, not
    of the request."""
    data = [None, notes, 1.0, length, rng_seed, None, None, None, None, 0, True, 0, 64, 1.0, "", None, False, None,
            1.0]  # the inputs of /generate, in order (melody/web/page.py, api_panel)
    event = http.post("/gradio_api/call/generate", json={"data": data}).json()["event_id"]
    with http.stream("GET", f"/gradio_api/call/generate/{event}") as stream:
        lines = list(stream.iter_lines())
    kind = next(line for line in reversed(lines) if line.startswith("event:"))
    payload = json.loads(next(line for line in reversed(lines) if line.startswith("data:"))[5:])
    if "complete" not in kind:
        raise RuntimeError(f"/generate failed: {payload}")
    for output in payload[:3]:
        http.get(output["url"]).raise_for_status()
    return payload[3]


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--skip-api", action="store_true")
    parser.add_argument("--skip-original", action="store_true")
    parser.add_argument("--checkpoint", help="default: the default checkpoint")
    parser.add_argument("--length", type=int, default=256, help="notes to generate (default 256)")
    args = parser.parse_args()
    length = args.length
    torch.set_num_threads(1)  # as the app runs it: one thread per request, requests side by side
    model = load_model(args.checkpoint)
    config = model.encoding
    results = {"machine": machine(), "checkpoint": model.path.name, "encoding": config.kind,
               "seed_notes": SEED_NOTES, "generated_notes": length, "runs": args.runs}
    song = upload_file()
    results["upload"] = f"{song.name} ({song.stat().st_size} bytes)"
    seed = pg.seed_from_midi(song, 0, SEED_NOTES, config)[0]
    results["encode upload (sandboxed)"] = summary(timed(lambda: pg.seed_from_midi(song, 0, SEED_NOTES, config),
                                                         args.runs))

    counter = iter(range(10**9))
    made = []
    results["generate"] = summary(timed(lambda: made.append(generate(model, seed, length, rng_seed=next(counter))),
                                        args.runs))
    tokens_made = int(np.median([len(seed.tokens) + len(m[0].tokens) for m in made]))
    spans = [(m[0].end_step - seed.end_step) / seed.steps_per_bar for m in made]
    results["continuation bars (median)"] = round(float(np.median(spans)), 1)
    tokens = torch.randint(0, config.vocab_size, (1, tokens_made), generator=torch.Generator().manual_seed(0))
    positions = torch.randint(0, max(model.config.position_inputs, 1), (1, tokens_made)) if config.rhythm else None
    with torch.no_grad():
        forward = summary(timed(lambda: model(tokens, positions), args.runs))
    results[f"teacher-forced forward, {tokens_made} tokens (seed + the continuation's median)"] = forward
    # The ratio from pairs run back to back (a generation, then the forward pass), so that the machine's
    # load, which swings both by 20% from one second to the next, divides out.
    with torch.no_grad():
        pairs = [timed(lambda: generate(model, seed, length, rng_seed=next(counter)), 1, warmup=0)[0]
                 / timed(lambda: model(tokens, positions), 1, warmup=0)[0] for _ in range(args.runs)]
    results["generation overhead ratio (median of back-to-back pairs)"] = round(float(np.median(pairs)), 2)
    results["generation overhead ratio (medians above)"] = round(results["generate"]["median_ms"]
                                                                 / forward["median_ms"], 2)

    continuation, probs = generate(model, seed, length, rng_seed=1, return_probs=True)
    midi = melody_to_midi(list(seed.notes) + list(continuation[0].notes), tempo=120)
    seed, continuation = list(seed.notes), [list(continuation[0].notes)]
    probs = [np.stack([pg.pitch_marginal(config, row) for row in probs[0][: len(continuation[0])]])]
    renderer = Renderer()
    results["synth"] = renderer.describe()
    cold = []
    for _ in range(3):
        renderer._notes.clear()
        cold.append(timed(lambda: renderer.render_audio(midi), 1, warmup=0)[0])
    results["render audio, notes not yet cached"] = summary(cold)
    audio = renderer.render_audio(midi)
    results["render audio, notes cached"] = summary(timed(lambda: renderer.render_audio(midi), args.runs))
    out = Path(tempfile.mkdtemp())
    results["encode audio (MP3)"] = summary(timed(lambda: encode_audio(audio, renderer.sample_rate_hz, out / "a.mp3"),
                                                  args.runs))
    results["audio seconds"] = round(len(audio) / renderer.sample_rate_hz, 1)
    results["audio file KiB"] = round((out / "a.mp3").stat().st_size / 1024)
    results["draw piano roll, full drawing"] = summary(timed(
        lambda: save_png(piano_roll_figure(seed, continuation[0], probs[0]), out / "r.png"), args.runs))
    results["draw piano roll, layout reused"] = summary(timed(
        lambda: save_piano_roll(out / "q.png", seed, continuation[0], probs[0]), args.runs))
    results["draw pitch-class histogram"] = summary(timed(lambda: save_png(pitch_class_figure([p for *_, p in seed], [p for *_, p in continuation[0]]),
                                                                           out / "h.png"), args.runs))
    playground = pg.Playground(voices=1)
    seed_obj = pg.seed_from_midi(song, 0, SEED_NOTES, config)[0]
    results["playground.generate, as the API calls it"] = summary(timed(
        lambda: playground.generate(seed_obj, pg.Settings(length=length, rng_seed=next(counter), histogram=False)),
        args.runs))

    if not args.skip_api:
        from gradio_client import Client

        process, url, startup = start_app(Path(tempfile.mkdtemp()) / "app.log")
        try:
            results["page ready after start (s)"] = round(startup, 2)
            client = Client(url, verbose=False)
            notes = seed_obj.describe().split(": ", 1)[1]  # the seed typed, with its lengths
            results["whole Generate request via API (gradio_client, files downloaded)"] = summary(timed(
                lambda: client.predict(seed_notes=notes, length=length, rng_seed=next(counter), api_name="/generate"),
                args.runs, warmup=2))
            http = httpx.Client(base_url=url, timeout=60)
            results["whole Generate request via Gradio's REST API (httpx, files downloaded)"] = summary(timed(
                lambda: rest_generate(http, notes, length, next(counter)), args.runs, warmup=2))
            bare = Client(url, verbose=False, download_files=False)
            results["same, files left on the server"] = summary(timed(
                lambda: bare.predict(seed_notes=notes, length=length, rng_seed=next(counter), api_name="/generate"),
                args.runs, warmup=2))
        finally:
            stop_app(process)

    if not args.skip_original:
        original = OriginalLSTM()
        seed_tokens = [p - 54 for _, _, p in seed]
        times = timed(lambda: generate_eagerly(original, seed_tokens, length), 3)
        results["original 3x1024 LSTM, 256 notes eagerly"] = summary(times)
        results["speed-up over the original"] = round(summary(times)["median_ms"] / results["generate"]["median_ms"], 1)
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
