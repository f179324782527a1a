"""The page as a user feels it, in Chromium driven by Playwright against ``python app.py``:

- page open -> ready: from navigation to the grid drawn and the seed's roll shown;
- Generate click -> audio playable, for a 256-note continuation (the audio element has its data);
- grid click -> sound: from the click's event to the note's sample starting, plus the audio
  system's own base latency (the grid records it, ``data-sound-ms``).

    .venv/bin/python bench/page.py [--runs 10] [--json PATH]

Prints JSON: medians and 95th percentiles in milliseconds, and the machine.
"""
import argparse
import json
import tempfile
import time
from pathlib import Path

from common import machine, summary  # first: it puts the project and its test helpers on the path
from app_process import start_app  # noqa: I001
from playwright.sync_api import sync_playwright

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--autoplay-policy=no-user-gesture-required"]


def open_page(browser, url):
    page = browser.new_page(viewport={"width": 1400, "height": 900})
    start = time.perf_counter()
    page.goto(url)
    page.wait_for_selector("#grid .pr-cell", timeout=60_000)
    page.wait_for_selector("#seed-roll img", timeout=60_000)
    return page, time.perf_counter() - start


def set_length(page, notes):
    box = page.get_by_label("Length (notes)", exact=False).locator("xpath=ancestor::*[contains(@class,'block')][1]")
    field = box.locator("input[type=number]")
    field.fill(str(notes))
    field.press("Enter")


def audio_sources(page):
    """``[(src, duration)]`` of the first result's audio elements (the player keeps its element in a
    shadow DOM, which Playwright's locators pierce)."""
    return page.locator("#audio-1 audio").evaluate_all(
        "els => els.map(e => [e.src, isFinite(e.duration) ? e.duration : 0])")


def generate_to_playable(page):
    """Seconds from the Generate click to the first result's audio having data to play."""
    old = {src for src, _ in audio_sources(page)}
    start = time.perf_counter()
    page.locator("#generate").click()
    while not any(src and src not in old and duration > 0 for src, duration in audio_sources(page)):
        if time.perf_counter() - start > 60:
            raise TimeoutError("no playable audio 60 s after Generate")
        time.sleep(0.005)
    return time.perf_counter() - start


def click_to_sound(page, runs):
    page.wait_for_function("() => performance.getEntriesByType('resource').filter(e => e.name.endsWith('.wav'))"
                           ".length >= 37", timeout=60_000)
    found = []
    for n in range(runs + 1):
        page.locator(f'#grid .pr-cell[data-step="{20 + n % 40}"][data-pitch="{60 + n % 12}"]').click()
        page.wait_for_timeout(150)
        value = page.locator("#grid [data-sound-ms]").get_attribute("data-sound-ms")
        if n and value is not None:
            found.append(float(value) / 1000)
    return found


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--json")
    args = parser.parse_args(argv)
    folder = tempfile.mkdtemp(prefix="bench-page-")
    process, url, started = start_app(Path(folder) / "app.log", env={"MELODY_TMP": folder})
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
            opened = []
            for _ in range(args.runs):
                page, seconds = open_page(browser, url)
                opened.append(seconds)
                page.close()
            page, _ = open_page(browser, url)
            set_length(page, 256)
            generate_to_playable(page)  # warm
            playable = [generate_to_playable(page) for _ in range(args.runs)]
            sounds = click_to_sound(page, 20)
            browser.close()
    finally:
        process.terminate()
        process.wait(30)
    report = {"machine": machine(), "server start to page answering (s)": round(started, 2),
              "page open -> ready": summary(opened), "Generate click -> audio playable, 256 notes": summary(playable),
              "grid click -> sound": summary(sounds)}
    text = json.dumps(report, indent=2)
    print(text)
    if args.json:
        Path(args.json).write_text(text + "\n")


if __name__ == "__main__":
    main()
