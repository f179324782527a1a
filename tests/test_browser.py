"""The page in a real browser: Playwright driving Debian's Chromium (/usr/bin/chromium)."""
import re
import time
from pathlib import Path

import pytest
from midi_factory import POKEMON_DIR, pitches_in, timed_notes_in, write_melody
from playwright.sync_api import expect, sync_playwright

import melody

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]
DRAWN = [(0, 60), (1, 64), (2, 67), (3, 72), (4, 71), (5, 67)]  # C4 E4 G4 C5 B4 G4

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def browser():
    if not Path(CHROMIUM).exists():
        pytest.fail("Chromium is missing: `make test` installs it (apt-get install chromium).")
    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser, app_url):
    context = browser.new_context(viewport={"width": 1400, "height": 1300})
    page = context.new_page()
    errors = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(app_url)
    page.wait_for_selector("#grid .pr-cell", timeout=60_000)
    yield page
    assert not errors, errors
    context.close()


def cell(page, step, pitch):
    return page.locator(f'#grid .pr-cell[data-step="{step}"][data-pitch="{pitch}"]')


def wait_until(condition, seconds=60):
    deadline = time.time() + seconds
    while not condition():
        if time.time() > deadline:
            raise AssertionError(f"still false after {seconds} s: {condition}")
        time.sleep(0.25)


def audio_duration(page, element_id):
    """Duration in seconds of the audio loaded in a gr.Audio (its player lives in a shadow DOM,
    which Playwright's locators pierce), 0 while nothing is loaded."""
    durations = page.locator(f"#{element_id} audio").evaluate_all(
        "els => els.filter(e => e.src).map(e => isFinite(e.duration) ? e.duration : 0)")
    return max(durations, default=0)


def midi_notes(page, element_id, tmp_path):
    link = page.locator(f"#{element_id} a").first
    expect(link).to_be_visible(timeout=60_000)
    data = page.request.get(link.get_attribute("href")).body()
    tmp_path.mkdir(parents=True, exist_ok=True)
    path = tmp_path / f"{element_id}.mid"
    path.write_bytes(data)
    return pitches_in(path)


def test_page_opens_with_a_seed_ready(page):
    expect(page.locator("#grid .pr-cell.on")).to_have_count(15)  # Ode to Joy, drawn
    expect(page.locator("#seed-text")).to_contain_text("E4 E4 F4 G4")
    expect(page.locator("#seed-roll img")).to_be_visible()


def test_draw_generate_hear_and_see(page, tmp_path):
    page.locator('#grid [data-action="clear"]').click()
    expect(page.locator("#grid .pr-cell.on")).to_have_count(0)
    for step, pitch in DRAWN:
        cell(page, step, pitch).click()
    expect(page.locator("#seed-text")).to_contain_text("C4 E4 G4 C5 B4 G4", timeout=30_000)
    page.locator("#generate").click()
    wait_until(lambda: audio_duration(page, "audio-1") > 0)
    expect(page.locator("#roll-1 img")).to_be_visible(timeout=60_000)
    expect(page.locator("#summary textarea")).to_have_value(re.compile(r"random seed \d+"))
    notes = midi_notes(page, "midi-1", tmp_path)
    assert notes[: len(DRAWN)] == [p for _, p in DRAWN]
    assert len(notes) == len(DRAWN) + 64
    end = max(e for _, e, _ in timed_notes_in(tmp_path / "midi-1.mid"))
    assert abs(audio_duration(page, "audio-1") - (end + 1.0)) < 0.15  # the last note, its release, MP3 padding
    shot = tmp_path / "playground.png"  # tests write only to temporary folders: `make screenshots` refreshes docs/
    page.screenshot(path=str(shot), full_page=True)
    assert shot.read_bytes()[:4] == b"\x89PNG"

    # Continue makes the result the new seed; Undo brings the drawn seed back.
    page.locator("#continue-1").click()
    expect(page.locator("#seed-text")).to_contain_text(f"{len(DRAWN) + 64} notes", timeout=30_000)
    page.locator("#undo-seed").click()
    expect(page.locator("#seed-text")).to_contain_text(f"{len(DRAWN)} notes from the grid", timeout=30_000)


def test_hear_the_drawn_seed(page):
    page.locator("#hear-seed").click()
    wait_until(lambda: audio_duration(page, "seed-audio") > 0)
    assert abs(audio_duration(page, "seed-audio") - (15 * 0.25 + 1.0)) < 0.15  # Ode to Joy: 15 eighth notes


def test_a_bad_upload_shows_a_message_and_the_page_goes_on(page, tmp_path):
    bad = tmp_path / "not-midi.mid"
    bad.write_text("These are my notes: C D E F G")
    page.get_by_role("tab", name="Upload MIDI").click()
    page.locator("#upload input[type=file]").set_input_files(str(bad))
    expect(page.get_by_text("is not a MIDI file").first).to_be_visible(timeout=30_000)
    page.locator("#generate").click()  # the previous seed is still there and still works
    expect(page.locator("#summary textarea")).to_have_value(re.compile(r"random seed \d+"), timeout=60_000)


def test_upload_shows_what_the_encoder_found(page, tmp_path):
    song = POKEMON_DIR / "Pokemon - Pallet Town.mid"
    if not song.exists():
        song = write_melody(tmp_path / "tune.mid", [62, 64, 66, 67, 69, 71, 73, 74] * 10)
    page.get_by_role("tab", name="Upload MIDI").click()
    page.locator("#upload input[type=file]").set_input_files(str(song))
    expect(page.locator("#seed-text")).to_contain_text(song.name, timeout=30_000)
    expect(page.locator("#upload-info")).to_contain_text("semitones", timeout=30_000)


def test_two_browser_sessions_keep_their_own_seeds(browser, app_url, tmp_path):
    pages = []
    for notes in ("C4 D4 E4 F4 G4", "A4 G4 F4 E4 D4"):
        context = browser.new_context(viewport={"width": 1400, "height": 1300})
        page = context.new_page()
        page.goto(app_url)
        page.wait_for_selector("#grid .pr-cell", timeout=60_000)
        page.get_by_role("tab", name="Type notes").click()
        page.locator("#notes textarea").fill(notes)
        page.locator("#use-notes").click()
        expect(page.locator("#seed-text")).to_contain_text(notes, timeout=30_000)
        pages.append((page, notes))
    for page, _ in pages:  # both generate at nearly the same time
        page.locator("#generate").click()
    for number, (page, notes) in enumerate(pages):
        got = midi_notes(page, "midi-1", tmp_path / str(number))
        assert got[:5] == melody.parse_notes(notes)
        page.context.close()


def test_top_k_of_one_from_the_slider_generates(page):
    page.get_by_text("Advanced").click()
    box = page.get_by_label("top-k (0 = off)", exact=False).locator("xpath=ancestor::*[contains(@class,'block')][1]")
    number = box.locator("input[type=number]")
    number.fill("1")
    number.press("Enter")
    page.locator("#generate").click()
    expect(page.locator("#summary textarea")).to_have_value(re.compile(r"top-k 1;"), timeout=60_000)


def test_steer_with_a_pin_drawn_after_the_seed_a_scale_and_a_loop(page, tmp_path):
    """Ode to Joy fills steps 1-15; a pin drawn at step 21 is the continuation's note 5 (0-based)."""
    page.locator('#grid [data-action="pin"]').click()
    cell(page, 20, 67).click()
    expect(cell(page, 20, 67)).to_have_class(re.compile(r"\bpin\b"))
    expect(page.locator("#grid .pr-cell.on")).to_have_count(15)  # the seed is unchanged
    page.get_by_text("Steer: pins, scale, loop, copy cap").click()
    page.locator("#pins textarea, #pins input").first.fill("10:C5")
    scale = page.locator("#scale input")
    scale.click()
    page.get_by_role("option", name="the seed's key").click()
    page.locator("#loop input").check()
    page.get_by_label("Length (notes)", exact=False).locator("xpath=ancestor::*[contains(@class,'block')][1]") \
        .locator("input[type=number]").fill("16")
    page.locator("#generate").click()
    expect(page.locator("#summary textarea")).to_have_value(re.compile(r"looping back into the seed"), timeout=60_000)
    summary = page.locator("#summary textarea").input_value()
    assert "pins 5:G4 10:C5" in summary and "scale key" in summary
    notes = midi_notes(page, "midi-1", tmp_path)
    assert len(notes) == 2 * (15 + 16) and notes[:31] == notes[31:]
    continuation = notes[15:31]
    assert continuation[5] == 67 and continuation[10] == 72
    assert {p % 12 for p in continuation} <= {0, 2, 4, 5, 7, 9, 11}  # Ode to Joy is in C major
