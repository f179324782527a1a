"""The page as a user feels it, in Chromium driven by Playwright against ``python app.py``:

- page open -> ready: from navigation to the grid drawn and the seed's roll shown;
- Generate click -> audio playable, for a 256-note continuation (the audio element has its data),
  on the page's own clock (the click event to the audio's duration known), and from outside;
  each run clicks twice: once on a quiet page (every player paused) and once while the result just
  made plays (autoplay is on by default: the player drawing its progress costs the page CPU);
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

from app_process import start_app  # noqa: I001
from common import machine, summary  # first: it puts the project and its test helpers on the path
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


# In the page: when the Generate button's click event fired, and when the first result's audio
# element (inside the player's shadow DOM) first had a new source with a duration, on one clock.
# Event-driven, so that the measure takes no CPU from the page and the server: every media element
# whose source is set from now on reports its ``durationchange``, and ``window.__playableDone``
# settles on the first one inside the result's player. (Polling for it every few milliseconds, as
# this did before 2026-12-07, ran beside the server on the same two cores and slowed what it timed.)
WATCH_PLAYABLE = """() => {
  const holder = document.getElementById('audio-1');
  const inside = (el) => {
    for (let n = el; n; n = n.parentNode || n.host) if (n === holder) return true;
    return false;
  };
  const proto = HTMLMediaElement.prototype;
  window.__src = window.__src || Object.getOwnPropertyDescriptor(proto, 'src');
  window.__clicked = null; window.__playable = null;
  document.getElementById('generate').addEventListener('click', (e) => { window.__clicked = e.timeStamp; },
                                                       { capture: true, once: true });
  const watch = window.__watch = {};  // listeners left by an earlier watch stay quiet
  window.__playableDone = new Promise((resolve) => {
    const check = (e) => {
      const a = e.target;
      const known = isFinite(a.duration) && a.duration > 0;
      if (window.__watch === watch && window.__playable === null && inside(a) && known) {
        window.__playable = performance.now();
        Object.defineProperty(proto, 'src', window.__src);
        resolve();
      }
    };
    Object.defineProperty(proto, 'src', {
      configurable: true, get() { return window.__src.get.call(this); },
      set(value) {
        this.addEventListener('durationchange', check);
        window.__src.set.call(this, value);
      },
    });
  });
}"""


def generate_to_playable(page):
    """``(in the page, from outside)``: seconds from the Generate click event to the first result's
    audio having data to play, measured by the page itself; and around Playwright's click and its
    wait (a promise the page settles, no polling)."""
    roll = "() => (document.querySelector('#roll-1 img') || {}).src || ''"
    before = page.evaluate(roll)
    page.evaluate(WATCH_PLAYABLE)
    start = time.perf_counter()
    page.locator("#generate").click()
    page.evaluate("() => window.__playableDone")
    outside = time.perf_counter() - start
    inside = page.evaluate("() => window.__playable - window.__clicked") / 1000
    # the pictures come just after the audio: a click before they are in is ignored (Gradio runs one at a time)
    page.wait_for_function(f"(before) => ({roll})() !== before", arg=before, timeout=60_000, polling=100)
    return inside, outside


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
            quiet, playing = [], []
            for _ in range(args.runs):  # in turn, so that both see the same machine
                # every player paused (the locator pierces their shadow DOMs)
                page.locator("audio").evaluate_all("els => els.forEach((e) => e.pause())")
                page.wait_for_timeout(300)
                quiet.append(generate_to_playable(page))
                playing.append(generate_to_playable(page))  # while the result just made plays (autoplay)
            sounds = click_to_sound(page, 20)
            browser.close()
    finally:
        process.terminate()
        process.wait(30)
    report = {"machine": machine(), "server start to page answering (s)": round(started, 2),
              "page open -> ready": summary(opened),
              "Generate click -> audio playable, 256 notes (the page's clock), nothing playing": summary(
                  [inside for inside, _ in quiet]),
              "the same while the last result plays": summary([inside for inside, _ in playing]),
              "both, around Playwright's click and wait": summary([outside for _, outside in quiet + playing]),
              "grid click -> sound": summary(sounds)}
    text = json.dumps(report, indent=2)
    print(text)
    if args.json:
        Path(args.json).write_text(text + "\n")


if __name__ == "__main__":
    main()
