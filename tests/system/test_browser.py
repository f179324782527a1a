"""The page in a real browser: Playwright driving Debian's Chromium (/usr/bin/chromium)."""
import json
import re
import time
from pathlib import Path

import pytest
from midi_factory import POKEMON_DIR, pitches_in, timed_notes_in, write_melody, write_notes
from playwright.sync_api import expect, sync_playwright

import melody
from melody.web.link import read_link

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


@pytest.fixture(scope="module")
def desktop(browser):
    """One browser context for the module's desktop pages: the page's scripts and styles load once
    (each page still is a session of its own on the server: the page keeps nothing in the browser)."""
    context = browser.new_context(viewport={"width": 1400, "height": 1300})
    yield context
    context.close()


@pytest.fixture
def page(desktop, app_url):
    page = desktop.new_page()
    errors = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(app_url)
    page.wait_for_selector("#grid .pr-cell", timeout=60_000)
    yield page
    assert not errors, errors
    page.close()


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


def test_the_grid_carries_its_notes_for_other_tools(page):
    """#grid's data-notes: [[onset, length, pitch, role], ...] in 16ths, after every change."""
    notes = lambda: json.loads(page.locator("#grid").get_attribute("data-notes") or "null")  # noqa: E731
    wait_until(lambda: notes() is not None and len(notes()) == 15)  # Ode to Joy
    assert [p for _, _, p, _ in notes()][:4] == [64, 64, 65, 67] and {r for *_, r in notes()} == {"seed"}
    page.locator('#grid [data-action="clear"]').click()
    wait_until(lambda: notes() == [])
    cell(page, 0, 60).click()
    cell(page, 2, 67).click()
    wait_until(lambda: notes() == [[0, 2, 60, "seed"], [4, 2, 67, "seed"]])
    page.locator('#grid [data-action="undo"]').click()
    wait_until(lambda: notes() == [[0, 2, 60, "seed"]])


def test_the_address_holds_the_tune_and_settings_and_opens_them_again(page, browser):
    """Every change rewrites the page's address; the link opened in a fresh browser (and a reload)
    shows the same notes and settings; a damaged link says so and the page starts as usual."""
    notes = lambda p: json.loads(p.locator("#grid").get_attribute("data-notes") or "null")  # noqa: E731
    page.locator('#grid [data-action="clear"]').click()
    for step, pitch in DRAWN:
        cell(page, step, pitch).click()
    expect(page.locator("#seed-text")).to_contain_text("C4 E4 G4 C5 B4 G4", timeout=30_000)
    page.get_by_text("Advanced").click()
    page.get_by_label("New random seed each time").uncheck()
    page.locator("#rng-seed input").fill("4242")
    page.locator("#rng-seed input").press("Enter")
    page.locator("#temperature input[type=range]").fill("0.6")
    drawn = notes(page)

    def settings_in_address():  # location itself: Playwright's page.url lags behind history.replaceState
        fragment = page.evaluate("() => location.hash.slice(1)")
        return read_link(fragment)[3] if fragment else {}

    wait_until(lambda: settings_in_address().get("temperature") == 0.6 and settings_in_address().get("rng_seed") == 4242)
    link = page.evaluate("() => location.href")
    fresh = browser.new_context(viewport={"width": 1400, "height": 1300}).new_page()
    for opened in (fresh, page):
        if opened is page:
            page.reload()
        else:
            fresh.goto(link)
        opened.wait_for_selector("#grid .pr-cell", timeout=60_000)
        wait_until(lambda opened=opened: notes(opened) == drawn)
        expect(opened.locator("#temperature input[type=number]")).to_have_value("0.6", timeout=30_000)
        opened.get_by_text("Advanced").click()
        expect(opened.locator("#rng-seed input")).to_have_value("4242", timeout=30_000)
        expect(opened.get_by_label("New random seed each time")).not_to_be_checked()
        expect(opened.locator("#seed-text")).to_contain_text("C4 E4 G4 C5 B4 G4", timeout=30_000)
    damaged = fresh.context.new_page()  # a new page: a goto that changes only the fragment loads nothing
    damaged.goto(link.split("#")[0] + "#1garbage")
    damaged.wait_for_selector("#grid .pr-cell", timeout=60_000)
    expect(damaged.locator("#generate-message")).to_contain_text("This link is damaged", timeout=30_000)
    expect(damaged.locator("#seed-text")).to_contain_text("E4 E4 F4 G4")  # the usual first seed
    fresh.context.close()


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


def test_hear_the_seed_whatever_its_source(page):
    page.locator("#hear-seed").click()
    wait_until(lambda: audio_duration(page, "seed-audio") > 0)
    assert abs(audio_duration(page, "seed-audio") - (15 * 0.25 + 1.0)) < 0.15  # Ode to Joy: 15 eighth notes
    page.get_by_role("tab", name="Type notes").click()
    page.locator("#notes textarea").fill("C4/2 E4/2 G4/1")  # typed, with its own lengths: 2 + 2 + 4 beats
    page.locator("#use-notes").click()
    expect(page.locator("#seed-text")).to_contain_text("3 notes", timeout=30_000)
    page.locator("#hear-seed").click()
    wait_until(lambda: abs(audio_duration(page, "seed-audio") - (8 * 0.5 + 1.0)) < 0.15)


@pytest.mark.slow
def test_a_note_sounds_as_it_is_drawn(page):
    wait_until(lambda: page.evaluate("() => performance.getEntriesByType('resource')"
                                     ".filter(e => e.name.endsWith('.wav')).length") >= 37, 30)
    cell(page, 30, 67).click()
    expect(page.locator("#grid [data-sound-ms]")).to_have_count(1, timeout=10_000)
    latency = float(page.locator("#grid [data-sound-ms]").get_attribute("data-sound-ms"))
    assert 0 <= latency < 100  # bench/page.py measures it properly


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


@pytest.mark.slow
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


@pytest.mark.slow
def test_top_k_of_one_from_the_slider_generates(page):
    page.get_by_text("Advanced").click()
    box = page.get_by_label("top-k (0 = off)", exact=False).locator("xpath=ancestor::*[contains(@class,'block')][1]")
    slider = box.locator("input[type=range]")
    expect(slider).to_be_visible()  # the accordion has opened
    slider.fill("1")  # as a drag would: the range input's input and change events
    expect(box.locator("input[type=number]")).to_have_value("1")  # the page has taken it
    page.wait_for_timeout(300)
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


# --- The page as its users meet it (issue 12) ---

def no_error_badges(page):
    """Gradio marks the outputs of a failed event with red "Error" badges."""
    return page.get_by_text("Error", exact=True).count() == 0


def test_clear_then_generate_says_the_grid_is_empty_instead_of_continuing_the_old_seed(page):
    page.locator('#grid [data-action="clear"]').click()
    expect(page.locator("#seed-text")).to_contain_text("the grid is empty", timeout=30_000)
    page.locator("#generate").click()
    expect(page.locator("#generate-message")).to_contain_text("The grid is empty", timeout=30_000)
    assert page.locator("#summary textarea").input_value() == ""
    assert no_error_badges(page)


@pytest.mark.slow
def test_a_bad_upload_is_said_beside_it_and_leaves_the_seed_and_the_box_clean(page, tmp_path):
    bad = tmp_path / "not-midi.mid"
    bad.write_text("These are my notes: C D E F G")
    page.get_by_role("tab", name="Upload MIDI").click()
    page.locator("#upload input[type=file]").set_input_files(str(bad))
    expect(page.locator("#upload-info")).to_contain_text("is not a MIDI file", timeout=30_000)
    expect(page.locator("#upload")).not_to_contain_text("not-midi.mid", timeout=30_000)  # the bad file is gone
    expect(page.locator("#seed-roll img")).to_be_visible()  # the seed and its roll stay
    expect(page.locator("#seed-text")).to_contain_text("E4 E4 F4 G4")
    assert no_error_badges(page)


def test_a_typing_mistake_is_said_beside_the_text_and_generate_does_not_use_another_seed(page):
    page.get_by_role("tab", name="Type notes").click()
    page.locator("#notes textarea").fill("C4 D4 zzz")
    expect(page.locator("#notes-message")).to_contain_text("'zzz' is not a note", timeout=30_000)
    page.locator("#generate").click()
    expect(page.locator("#generate-message")).to_contain_text("typed notes have a mistake", timeout=30_000)
    assert page.locator("#summary textarea").input_value() == ""
    page.locator("#notes textarea").fill("C2 D4 Bb4")  # fixed: the changes made to it are said
    expect(page.locator("#notes-message")).to_contain_text("moved by octaves", timeout=30_000)
    expect(page.locator("#notes-message")).to_contain_text("flats are written as sharps")
    page.locator("#generate").click()
    expect(page.locator("#summary textarea")).to_have_value(re.compile(r"^1 variation of"), timeout=60_000)
    expect(page.locator("#generate-message")).to_have_text("")
    assert no_error_badges(page)


def test_undo_is_off_until_there_is_something_to_undo(page):
    expect(page.locator("#undo-seed")).to_be_disabled()
    page.get_by_role("tab", name="Type notes").click()
    page.locator("#notes textarea").fill("C4 E4 G4")
    page.locator("#use-notes").click()
    expect(page.locator("#undo-seed")).to_be_enabled(timeout=30_000)
    page.locator("#undo-seed").click()
    expect(page.locator("#seed-text")).to_contain_text("E4 E4 F4 G4", timeout=30_000)
    expect(page.locator("#undo-seed")).to_be_disabled()
    assert no_error_badges(page)


@pytest.mark.slow
def test_an_upload_plays_at_its_own_tempo_and_its_part_follows_start_and_number(page, tmp_path):
    song = write_notes(tmp_path / "fast.mid", [(60 + i % 12, i * 0.5, 0.5) for i in range(80)], tempo=180.0)
    page.get_by_role("tab", name="Upload MIDI").click()
    page.locator("#upload input[type=file]").set_input_files(str(song))
    expect(page.locator("#seed-text")).to_contain_text("fast.mid", timeout=30_000)
    page.get_by_text("Advanced").click()
    tempo = page.get_by_label("Tempo (BPM)", exact=False).locator("xpath=ancestor::*[contains(@class,'block')][1]")
    expect(tempo.locator("input[type=number]")).to_have_value("180")
    start = page.locator("#seed-start input")
    start.fill("8")
    start.press("Enter")
    expect(page.locator("#seed-text")).to_contain_text("(notes 8-71)", timeout=30_000)
    start.fill("-5")
    start.press("Enter")
    expect(page.locator("#upload-info")).to_contain_text("Start at note must be", timeout=30_000)
    expect(page.locator("#seed-text")).to_contain_text("(notes 8-71)")
    assert no_error_badges(page)


@pytest.mark.slow
def test_model_and_sound_sit_in_their_panel_and_the_sound_line_follows_the_soundfont(page):
    page.get_by_text("Model and sound").click()
    status = page.locator("#sound-status")
    before = status.inner_text()
    page.locator("#soundfont input").click()
    options = page.get_by_role("option")
    if options.count() < 2:
        pytest.skip("only one soundfont here")
    other = options.nth(1).inner_text()
    options.nth(1).click()
    expect(status).to_contain_text(other.split(" ")[0].split(".")[0], timeout=30_000)
    assert before.split(" with ")[-1] not in status.inner_text()


@pytest.mark.slow
def test_downloads_hold_the_continuation_alone_and_a_wav(page, tmp_path):
    page.locator("#generate").click()
    links = page.locator("#downloads-1 a")
    expect(links).to_have_count(2, timeout=60_000)
    names = [links.nth(i).get_attribute("href") for i in range(2)]
    assert any(n.endswith("-continuation.mid") for n in names) and any(n.endswith(".wav") for n in names)
    alone = next(n for n in names if n.endswith(".mid"))
    path = tmp_path / "alone.mid"
    path.write_bytes(page.request.get(alone).body())
    assert len(pitches_in(path)) == 64  # the continuation, without the 15-note seed


@pytest.mark.slow
def test_the_first_result_comes_into_view_and_plays(browser, app_url):
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    page = context.new_page()
    page.goto(app_url)
    page.wait_for_selector("#grid .pr-cell", timeout=60_000)
    page.locator("#generate").click()
    wait_until(lambda: audio_duration(page, "audio-1") > 0)
    wait_until(lambda: page.evaluate("() => { const b = document.getElementById('audio-1').getBoundingClientRect();"
                                     " return b.top >= 0 && b.bottom <= window.innerHeight; }"), 30)
    wait_until(lambda: page.locator("#audio-1 audio").evaluate_all("els => els.some(e => !e.paused)"), 30)
    page.locator("#continue-1").click()  # Continue shows the new seed where the user looks
    expect(page.locator("#seed-text")).to_contain_text("79 notes", timeout=30_000)
    wait_until(lambda: page.evaluate("() => { const b = document.getElementById('seed-roll').getBoundingClientRect();"
                                     " return b.top >= 0 && b.top < window.innerHeight; }"), 30)
    context.close()


def touch(page, step, pitch, kind):
    """A touch pointer event on a grid cell (Playwright's touchscreen only taps)."""
    page.evaluate("""([step, pitch, kind]) => {
        const cell = document.querySelector(`#grid .pr-cell[data-step="${step}"][data-pitch="${pitch}"]`);
        const box = cell.getBoundingClientRect();
        const where = {clientX: box.x + box.width / 2, clientY: box.y + box.height / 2};
        cell.dispatchEvent(new PointerEvent(kind, {bubbles: true, pointerType: 'touch', pointerId: 7, isPrimary: true,
                                                   button: 0, ...where}));
    }""", [step, pitch, kind])


def test_on_a_phone_a_finger_scrolls_the_grid_and_draws_only_in_drawing_mode(browser, app_url):
    context = browser.new_context(viewport={"width": 390, "height": 844}, has_touch=True, is_mobile=True)
    page = context.new_page()
    page.goto(app_url)
    page.wait_for_selector("#grid .pr-cell", timeout=60_000)
    box = page.locator("#grid .pr-scroll").bounding_box()
    assert box["height"] <= 320  # the grid scrolls inside itself, not the page under a finger
    for kind in ("pointerdown", "pointerup"):  # a swipe starting on a cell
        touch(page, 3, 77, kind)
    page.wait_for_timeout(500)
    expect(page.locator("#grid .pr-cell.on")).to_have_count(15)
    expect(cell(page, 3, 77)).not_to_have_class(re.compile(r"\bon\b"))
    page.locator('#grid [data-action="draw"]').click()
    for kind in ("pointerdown", "pointerup"):
        touch(page, 20, 77, kind)
    expect(cell(page, 20, 77)).to_have_class(re.compile(r"\bon\b"), timeout=10_000)
    generate = page.locator("#generate").bounding_box()
    assert generate["y"] < 2 * 844 + page.evaluate("() => window.scrollY")  # within two screens of the top
    context.close()


# What a phone cuts: a download's name clipped, a dropdown's text under its arrow, a picture's label over it.
CLIPPED = """() => {
  const out = [];
  document.querySelectorAll('td.filename, td.filename .stem').forEach((e) => {
    if (e.scrollWidth > e.clientWidth + 1) out.push(`name cut: ${e.textContent.trim()}`);
  });
  document.querySelectorAll('input[role=combobox]').forEach((i) => {
    const icon = i.parentElement.querySelector('.icon-wrap');
    const textEnd = i.getBoundingClientRect().right - parseFloat(getComputedStyle(i).paddingRight);
    if (icon && i.offsetParent && textEnd > icon.getBoundingClientRect().left + 1) out.push(`under its arrow: ${i.value}`);
  });
  ['seed-roll', 'roll-1'].forEach((id) => {
    const holder = document.getElementById(id), img = holder && holder.querySelector('img');
    const label = holder && holder.querySelector('label[data-testid=block-label]');
    if (img && label && label.getBoundingClientRect().bottom > img.getBoundingClientRect().top + 1) out.push(`label over ${id}`);
  });
  return out;
}"""


@pytest.mark.parametrize("size", [(390, 844), (1400, 900)], ids=["phone", "desktop"])
@pytest.mark.slow
def test_names_dropdowns_and_labels_are_whole_on_a_phone_and_a_desktop(browser, app_url, size):
    context = browser.new_context(viewport={"width": size[0], "height": size[1]}, has_touch=True,
                                  is_mobile=size[0] < 500)
    page = context.new_page()
    page.goto(app_url)
    page.wait_for_selector("#grid .pr-cell", timeout=60_000)
    page.get_by_text("Model and sound").click()  # the checkpoint's long name in its dropdown
    page.locator("#generate").click()
    expect(page.locator("#downloads-1 a")).to_have_count(2, timeout=60_000)
    expect(page.locator("#roll-1 img")).to_be_visible(timeout=60_000)
    assert page.locator("input[role=combobox]:visible").count() >= 2
    assert page.evaluate(CLIPPED) == []
    context.close()


CONTRAST = """(el) => {
  const rgb = (c) => c.match(/[0-9.]+/g).slice(0, 3).map(Number);
  const lum = (c) => { const [r, g, b] = rgb(c).map((v) => { v /= 255; return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; });
                       return 0.2126 * r + 0.7152 * g + 0.0722 * b; };
  let back = el, bg = 'rgba(0, 0, 0, 0)';
  while (back && (bg = getComputedStyle(back).backgroundColor) && (bg === 'transparent' || bg.endsWith(', 0)'))) back = back.parentElement;
  if (!back) bg = 'rgb(255, 255, 255)';
  const [a, b] = [lum(getComputedStyle(el).color), lum(bg)].sort((x, y) => y - x);
  return (a + 0.05) / (b + 0.05);
}"""


def test_the_grid_works_from_the_keyboard_and_the_page_reads_well(page):
    grid = page.locator("#grid .pr-grid")
    expect(grid).to_have_attribute("role", "grid")
    page.locator('#grid [data-action="clear"]').click()
    grid.focus()
    for key in ["ArrowRight", "ArrowRight", "ArrowUp", "ArrowUp", "Enter", "ArrowRight", "ArrowDown", " "]:
        page.keyboard.press(key)
    expect(cell(page, 2, 62)).to_have_class(re.compile(r"\bon\b"), timeout=10_000)  # D4 at step 3
    expect(cell(page, 3, 61)).to_have_class(re.compile(r"\bon\b"), timeout=10_000)  # C#4 at step 4
    expect(cell(page, 3, 61)).to_have_attribute("aria-selected", "true")
    expect(page.locator("#seed-text")).to_contain_text("2 notes from the grid", timeout=30_000)
    page.keyboard.press(" ")  # the cursor stays where it was: Space removes the note again
    expect(cell(page, 3, 61)).not_to_have_class(re.compile(r"\bon\b"), timeout=10_000)
    assert page.locator("#seed-roll img").get_attribute("alt").startswith("Piano roll of the seed")
    page.locator("#generate").click()
    expect(page.locator("#roll-1 img")).to_have_attribute("alt", re.compile("Piano roll of variation 1"), timeout=60_000)
    for selector in ["#generate", "#grid .pr-info", "#seed-text p", "[data-testid='block-info']", "div.info, span.info"]:
        seen = [e for e in page.locator(selector).all()[:4] if e.is_visible()]
        assert seen or selector == "div.info, span.info", selector
        for element in seen:
            assert element.evaluate(CONTRAST) >= 4.5, (selector, element.evaluate(CONTRAST))


@pytest.mark.slow
def test_the_grid_shows_the_seed_whatever_its_source(page):
    page.get_by_role("tab", name="Type notes").click()
    page.locator("#notes textarea").fill("D4/4 F#4/8 A4/8 r/4 D5/2")
    page.locator("#use-notes").click()
    expect(page.locator("#seed-text")).to_contain_text("4 notes", timeout=30_000)
    expect(page.locator("#grid .pr-cell.on")).to_have_count(4, timeout=30_000)
    # with their lengths, in eighth columns: D4 a quarter (2 columns), F#4, A4, a quarter's rest, D5 a half
    for step, pitch in [(0, 62), (2, 66), (3, 69), (6, 74)]:
        expect(cell(page, step, pitch)).to_have_class(re.compile(r"\bon\b"))
    for step, pitch in [(1, 62), (7, 74), (8, 74), (9, 74)]:
        expect(cell(page, step, pitch)).to_have_class(re.compile(r"\bhold\b"))
    page.get_by_role("tab", name="Draw").click()
    page.locator('#grid [data-action="pin"]').click()
    cell(page, 11, 72).click()  # a pin: the typed seed keeps its own rhythm
    page.wait_for_timeout(1000)
    expect(page.locator("#seed-text")).to_contain_text("D4/4 F#4 A4 r/4 D5/2")
    # A fixed random seed: the grid draws the model's range (MIDI 54..90), which in D major leaves out
    # the top two notes the model can play (91, 92), so a continuation that reaches them shows fewer cells.
    page.get_by_text("Advanced").click()
    page.get_by_label("New random seed each time").uncheck()
    page.locator("#generate").click()
    expect(page.locator("#summary textarea")).to_have_value(re.compile("pins 1:C5"), timeout=60_000)  # D5 ends at 10
    page.locator("#continue-1").click()  # a long seed: the grid grows to hold it
    expect(page.locator("#seed-text")).to_contain_text("68 notes", timeout=30_000)
    expect(page.locator("#grid .pr-cell.on")).to_have_count(68, timeout=30_000)  # every note in view, lengths and all


def test_the_computer_keyboard_plays_and_records_into_the_grid(page):
    wait_until(lambda: page.evaluate("() => performance.getEntriesByType('resource')"
                                     ".filter(e => e.name.endsWith('.wav')).length") >= 37, 30)
    page.locator('#grid [data-action="keys"]').click()
    for key in ["z", "x", "c", "q"]:  # C4 D4 E4 on the lower row, C5 on the upper one
        page.keyboard.press(key)
        page.wait_for_timeout(150)
    for step, pitch in [(15, 60), (16, 62), (17, 64), (18, 72)]:  # after Ode to Joy's 15 notes
        expect(cell(page, step, pitch)).to_have_class(re.compile(r"\bon\b"), timeout=10_000)
    expect(page.locator("#seed-text")).to_contain_text("19 notes from the grid", timeout=30_000)
    assert page.locator("#grid [data-sound-ms]").count() == 1
    page.get_by_role("tab", name="Type notes").click()  # typing in a text box plays nothing
    page.locator("#notes textarea").fill("")
    page.locator("#notes textarea").type("zx")
    page.get_by_role("tab", name="Draw").click()
    expect(page.locator("#grid .pr-cell.on")).to_have_count(19)


def test_a_playhead_follows_the_audio_over_the_roll_and_a_click_plays_from_there(page):
    page.locator("#generate").click()
    wait_until(lambda: audio_duration(page, "audio-1") > 0)
    head = page.locator("#roll-1 .playhead")
    wait_until(lambda: head.count() == 1 and float(head.get_attribute("data-part") or 0) > 0, 30)  # autoplay
    first = float(head.get_attribute("data-part"))
    page.wait_for_timeout(1500)
    assert float(head.get_attribute("data-part")) > first  # it moves with the sound
    seconds = float(page.locator("#timeline-1 .roll-timeline").get_attribute("data-seconds"))
    left = float(page.locator("#timeline-1 .roll-timeline").get_attribute("data-left"))
    right = float(page.locator("#timeline-1 .roll-timeline").get_attribute("data-right"))
    img = page.locator("#roll-1 img").bounding_box()
    page.mouse.click(img["x"] + img["width"] * (left + 0.75 * (right - left)), img["y"] + img["height"] / 2)
    now = page.locator("#audio-1 audio").evaluate_all("els => els.filter(e => e.src).map(e => e.currentTime)")[0]
    assert abs(now - 0.75 * seconds) < 0.1 * seconds + 0.5


@pytest.mark.slow
def test_the_playhead_writes_nothing_while_the_audio_is_paused(page):
    page.locator("#generate").click()
    head = page.locator("#roll-1 .playhead")
    wait_until(lambda: head.count() == 1 and float(head.get_attribute("data-part") or 0) > 0, 30)  # autoplay
    count_writes = """(head) => new Promise((done) => {
      let writes = 0;
      const seen = new MutationObserver((changes) => { writes += changes.length; });
      seen.observe(head, { attributes: true });
      setTimeout(() => { seen.disconnect(); done(writes); }, 800);
    })"""
    assert head.evaluate(count_writes) > 0  # it moves while the audio plays
    page.locator("#audio-1 audio").evaluate_all("els => els.forEach((e) => e.pause())")
    page.wait_for_timeout(100)
    assert head.evaluate(count_writes) == 0  # and is left alone while it is paused


@pytest.mark.slow
def test_generating_shows_its_progress_under_the_button_and_nowhere_else(page):
    page.locator("#variations input[type=range]").fill("4")
    page.locator("#length input[type=range]").fill("512")
    page.locator("#generate").click()
    busy = '[data-testid=status-tracker]:not(.hide)'
    expect(page.locator(f"#generate-message {busy}")).to_be_visible(timeout=10_000)
    assert page.locator(f"#audio-1 {busy}, #roll-1 {busy}, #summary {busy}").count() == 0
    wait_until(lambda: audio_duration(page, "audio-4") > 0)
    expect(page.locator(f"#generate-message {busy}")).to_have_count(0, timeout=60_000)


@pytest.mark.slow
def test_fewer_variations_hide_the_results_left_over_and_more_show_them_again(page):
    variations, length = page.locator("#variations input[type=range]"), page.locator("#length input[type=range]")
    length.fill("8")
    for count in (2, 1, 3, 3):
        variations.fill(str(count))
        before = page.locator("#summary textarea").input_value()
        page.locator("#generate").click()
        wait_until(lambda before=before: page.locator("#summary textarea").input_value() not in ("", before), 60)
        for number in range(1, 5):
            shown = expect(page.locator(f"#audio-{number}"))
            shown.to_be_visible() if number <= count else shown.to_be_hidden()
        compare = expect(page.locator("#compare"))
        compare.to_be_visible() if count > 1 else compare.to_be_hidden()
        assert audio_duration(page, f"audio-{count}") > 0


def playback(page, number):
    """``(currentTime, paused)`` of a result's audio."""
    return page.locator(f"#audio-{number} audio").evaluate_all(
        "els => els.filter(e => e.src).map(e => [e.currentTime, e.paused])")[0]


@pytest.mark.slow
def test_the_continuation_plays_alone_and_compare_plays_each_in_turn(page):
    page.locator("#variations input[type=range]").fill("2")
    page.locator("#length input[type=range]").fill("8")
    page.locator("#generate").click()
    wait_until(lambda: audio_duration(page, "audio-2") > 0)
    expect(page.locator("#compare")).to_be_visible()

    def mark(number, what):
        return float(page.locator(f"#timeline-{number} .roll-timeline").get_attribute(f"data-{what}"))

    # the audio comes first, the rolls and their timelines right after
    wait_until(lambda: page.locator("#timeline-2 .roll-timeline").get_attribute("data-end") not in ("", None), 30)
    assert 0 < mark(1, "seed-end") < mark(1, "end") <= audio_duration(page, "audio-1")
    page.locator("#alone-1").click()
    wait_until(lambda: not playback(page, 1)[1] and playback(page, 1)[0] >= mark(1, "seed-end") - 0.05, 10)
    assert playback(page, 1)[0] < mark(1, "seed-end") + 1.0  # it started where the seed ends
    assert playback(page, 2)[1]  # one result sounds at a time
    wait_until(lambda: playback(page, 1)[1], 30)  # and stops where the continuation ends
    assert abs(playback(page, 1)[0] - mark(1, "end")) < 0.3

    page.locator("#compare").click()
    wait_until(lambda: not playback(page, 1)[1], 10)
    assert playback(page, 2)[1]
    wait_until(lambda: not playback(page, 2)[1], 30)  # the first continuation over, the second begins
    assert playback(page, 1)[1] and abs(playback(page, 1)[0] - mark(1, "end")) < 0.3
    assert mark(2, "seed-end") - 0.05 <= playback(page, 2)[0] < mark(2, "seed-end") + 1.0
    wait_until(lambda: playback(page, 2)[1], 30)
    assert abs(playback(page, 2)[0] - mark(2, "end")) < 0.3


@pytest.mark.slow
def test_one_variation_has_nothing_to_compare(page):
    page.locator("#generate").click()
    wait_until(lambda: audio_duration(page, "audio-1") > 0)
    expect(page.locator("#compare")).to_be_hidden()
    expect(page.locator("#alone-1")).to_be_visible()


@pytest.mark.slow
def test_loop_playback_loops_every_result(page):
    page.locator("#loop-playback input").check()
    page.locator("#generate").click()
    wait_until(lambda: audio_duration(page, "audio-1") > 0)
    page.locator("#audio-1 audio").evaluate_all(
        "els => els.filter(e => e.src).forEach(e => { e.currentTime = e.duration - 0.3; e.play(); })")
    page.wait_for_timeout(2500)  # it ran past its end and started again
    state = page.locator("#audio-1 audio").evaluate_all("els => els.filter(e => e.src).map(e => [e.currentTime, e.paused])")
    assert state[0][0] < 2.4 and not state[0][1], state  # 0.3 s to the end, then about 2 s from the start


def timed_notes_in_midi(page, element_id, tmp_path):
    """``(start, end, pitch)`` of every note of a result's MIDI file (seconds)."""
    midi_notes(page, element_id, tmp_path)
    return timed_notes_in(tmp_path / f"{element_id}.mid")


def drag(page, start, end):
    """Press the mouse on grid cell ``start`` ((step, pitch)), move to ``end`` and let go."""
    a, b = cell(page, *start).bounding_box(), cell(page, *end).bounding_box()
    page.mouse.move(a["x"] + a["width"] / 2, a["y"] + a["height"] / 2)
    page.mouse.down()
    page.mouse.move(b["x"] + b["width"] / 2, b["y"] + b["height"] / 2, steps=6)
    page.mouse.up()


def test_notes_are_drawn_with_lengths_and_the_empty_columns_are_rests(page, tmp_path):
    page.locator('#grid [data-action="clear"]').click()
    cell(page, 0, 60).click()
    drag(page, (2, 64), (4, 64))  # a new note pulled along its row: three eighths
    cell(page, 7, 67).click()
    expect(cell(page, 3, 64)).to_have_class(re.compile(r"\bhold\b"))
    expect(page.locator("#seed-text")).to_contain_text("3 notes from the grid", timeout=30_000)
    expect(page.locator("#seed-text")).to_contain_text("C4 r E4/4. r/4 G4")
    drag(page, (4, 64), (3, 64))  # from the note's end back by one column: a quarter
    expect(page.locator("#seed-text")).to_contain_text("C4 r E4/4 r/4. G4", timeout=30_000)
    drag(page, (7, 67), (10, 67))  # and a note made longer from its start
    expect(page.locator("#seed-text")).to_contain_text("G4/2", timeout=30_000)
    page.locator("#generate").click()
    expect(page.locator("#summary textarea")).to_have_value(re.compile("after a 3-note seed"), timeout=60_000)
    seed = timed_notes_in_midi(page, "midi-1", tmp_path)[:3]
    beat = 0.5  # seconds at 120 BPM
    assert [(round(s / beat * 2), round((e - s) / beat * 2), p) for s, e, p in seed] == [(0, 1, 60), (2, 2, 64), (7, 4, 67)]
    cell(page, 2, 64).click()  # a click on a note removes it, all its columns
    expect(page.locator("#grid .pr-cell.hold[data-pitch='64']")).to_have_count(0, timeout=10_000)
    expect(page.locator("#seed-text")).to_contain_text("2 notes from the grid", timeout=30_000)


@pytest.mark.slow
def test_sixteenth_columns_zoom_and_snap_to_a_scale(page):
    expect(page.locator("#grid .pr-cell.on")).to_have_count(15)  # Ode to Joy in eighth columns
    page.locator('#grid [data-action="unit"]').select_option("1")  # sixteenths: each note two columns
    expect(page.locator("#grid .pr-cell.hold")).to_have_count(15, timeout=10_000)
    expect(cell(page, 2, 64)).to_have_class(re.compile(r"\bon\b"))
    expect(page.locator("#seed-text")).to_contain_text("E4 E4 F4 G4")  # the same seed
    width = cell(page, 0, 64).bounding_box()["width"]
    page.locator('#grid [data-action="zoom-in"]').click()
    wait_until(lambda: cell(page, 0, 64).bounding_box()["width"] > 1.3 * width, 10)
    page.locator('#grid [data-action="snap"]').select_option("2:major")  # D major: no F, no C
    expect(page.locator("#grid .pr-row[data-pitch='65']")).to_have_class(re.compile("off-scale"))
    expect(page.locator("#grid .pr-row[data-pitch='66']")).not_to_have_class(re.compile("off-scale"))
    cell(page, 31, 65).click()  # F4 drawn is F#4
    expect(cell(page, 31, 66)).to_have_class(re.compile(r"\bon\b"), timeout=10_000)
    expect(page.locator("#seed-text")).to_contain_text("16 notes from the grid", timeout=30_000)
    expect(page.locator('#grid [data-action="snap"]')).to_have_value("2:major")  # kept as the grid redraws
    expect(page.locator("#seed-text")).to_contain_text("D4 r/16 F#4/16")


@pytest.mark.slow
def test_on_a_phone_the_grid_zooms_and_a_note_is_lengthened_by_a_finger(browser, app_url):
    context = browser.new_context(viewport={"width": 390, "height": 844}, has_touch=True, is_mobile=True)
    page = context.new_page()
    page.goto(app_url)
    page.wait_for_selector("#grid .pr-cell", timeout=60_000)
    width = cell(page, 0, 64).bounding_box()["width"]
    page.locator('#grid [data-action="zoom-out"]').click()
    wait_until(lambda: cell(page, 0, 64).bounding_box()["width"] < 0.9 * width, 10)
    page.locator('#grid [data-action="draw"]').click()
    touch(page, 2, 72, "pointerdown")  # over Ode to Joy's third note, in view on a phone
    touch(page, 4, 72, "pointermove")
    touch(page, 4, 72, "pointerup")
    expect(cell(page, 3, 72)).to_have_class(re.compile(r"\bhold\b"), timeout=10_000)
    expect(page.locator("#seed-text")).to_contain_text("C5/4.", timeout=30_000)
    context.close()


@pytest.mark.slow
def test_from_the_keyboard_shift_and_the_arrows_make_a_note_longer_or_shorter(page):
    page.locator('#grid [data-action="clear"]').click()
    grid = page.locator("#grid .pr-grid")
    grid.focus()
    page.keyboard.press("Enter")  # the cursor starts on C4 at the first column
    for key in ["Shift+ArrowRight", "Shift+ArrowRight", "Shift+ArrowRight", "Shift+ArrowLeft"]:
        page.keyboard.press(key)
        page.wait_for_timeout(100)
    expect(cell(page, 2, 60)).to_have_class(re.compile(r"\bhold\b"), timeout=10_000)
    expect(cell(page, 3, 60)).not_to_have_class(re.compile(r"\bhold\b"))
    expect(page.locator("#seed-text")).to_contain_text("C4/4.", timeout=30_000)  # three eighths


# --- Issue 21: what the page says and shows, its players, its accessibility ---

def time_signatures(path):
    import pretty_midi

    return [(t.numerator, t.denominator) for t in pretty_midi.PrettyMIDI(str(path)).time_signature_changes]


@pytest.mark.slow
def test_typed_notes_keep_their_meter_and_lengths_as_written_and_name_their_flats(page, tmp_path):
    page.get_by_role("tab", name="Type notes").click()
    page.locator("#notes textarea").fill("3/4 A4/4 C5*10 Db5/4 E5*14")
    seed = page.locator("#seed-text")
    expect(seed).to_contain_text("3/4 A4/4 C5*10 C#5/4 E5*14", timeout=30_000)  # plain text, no italics
    assert seed.locator("em").count() == 0
    expect(page.locator("#notes-message")).to_contain_text("Db5 is shown as C#5")  # the flat typed, not another
    expect(page.locator('#grid [data-action="meter"]')).to_have_value("3/4")  # bars of 6 eighth columns
    expect(cell(page, 6, 69)).to_have_class(re.compile(r"\bbar\b"))
    expect(cell(page, 8, 69)).not_to_have_class(re.compile(r"\bbar\b"))
    page.get_by_role("tab", name="Draw").click()
    page.locator('#grid [data-action="meter"]').select_option("6/8")  # the grid's own menu sets the seed's meter
    expect(seed).to_contain_text("6/8 A4/4 C5*10", timeout=30_000)
    page.get_by_role("tab", name="Type notes").click()
    page.get_by_text("Greensleeves (in 3/4)").click()
    expect(seed).to_contain_text("3/4 A4/4 C5/2 D5/4", timeout=30_000)
    page.locator("#length input[type=range]").fill("8")
    page.locator("#generate").click()
    midi_notes(page, "midi-1", tmp_path)
    assert time_signatures(tmp_path / "midi-1.mid") == [(3, 4)]


def test_result_buttons_wait_for_a_result_and_messages_and_controls_match_what_is_there(page):
    for button in ("#alone-1", "#continue-1"):
        expect(page.locator(button)).to_be_disabled()
    page.locator("#continue-1").evaluate("(b) => { b.disabled = false; b.click(); }")  # forced: it says why, beside it
    said = page.locator("#continue-message-1")
    expect(said).to_contain_text("Generate first", timeout=30_000)
    assert 0 < said.bounding_box()["y"] - page.locator("#continue-1").bounding_box()["y"] < 150
    page.locator('#grid [data-action="clear"]').click()  # a warning under Generate goes when the seed is back
    expect(page.locator("#seed-text")).to_contain_text("the grid is empty", timeout=30_000)
    page.locator("#generate").click()
    expect(page.locator("#generate-message")).to_contain_text("The grid is empty", timeout=30_000)
    cell(page, 0, 60).click()
    expect(page.locator("#seed-text")).to_contain_text("from the grid", timeout=30_000)
    expect(page.locator("#generate-message")).to_have_text("")
    page.get_by_text("Advanced").click()  # beta only with its rule
    expect(page.locator("#rule")).to_be_visible()
    expect(page.locator("#beta")).to_be_hidden()
    page.locator("#rule").get_by_text("softmax base (beta)").click()
    expect(page.locator("#beta")).to_be_visible()
    page.locator("#rule").get_by_text("temperature", exact=True).click()
    expect(page.locator("#beta")).to_be_hidden()
    page.get_by_text("Steer: pins, scale, loop, copy cap").click()
    cap = page.locator("#max-copy input[type=range]")  # the server's range, and 0 for off
    assert (cap.get_attribute("min"), cap.get_attribute("max")) == ("0", "1024")
    pins = page.locator("#pins textarea, #pins input").first
    pins.fill("3:C5 3:D5")
    page.locator("#generate").click()
    expect(page.locator("#generate-message")).to_contain_text("Note 3 of the continuation is pinned twice",
                                                              timeout=30_000)
    pins.fill("")
    page.locator("#length input[type=range]").fill("8")
    page.locator("#generate").click()
    expect(page.locator("#continue-1")).to_be_enabled(timeout=60_000)
    expect(page.locator("#alone-1")).to_be_enabled()
    expect(page.locator("#generate-message")).to_have_text("")


@pytest.mark.slow
def test_hear_the_seed_plays_it_and_one_sound_plays_at_a_time(page):
    page.locator("#length input[type=range]").fill("32")
    page.locator("#generate").click()
    wait_until(lambda: page.locator("#audio-1 audio").evaluate_all("els => els.some(e => !e.paused)"), 60)  # autoplay
    page.locator("#hear-seed").click()
    wait_until(lambda: page.locator("#seed-audio audio").evaluate_all("els => els.some(e => !e.paused)"), 30)
    wait_until(lambda: playback(page, 1)[1], 5)  # the result paused
    page.locator("#audio-1 audio").evaluate_all("els => els.filter(e => e.src).forEach((e) => e.play())")
    wait_until(lambda: page.locator("#seed-audio audio").evaluate_all("els => els.every(e => e.paused)"), 10)


@pytest.mark.slow
def test_the_grid_cursor_is_announced_to_screen_readers(page):
    grid = page.locator("#grid .pr-grid")
    grid.focus()
    for key in ["ArrowRight", "ArrowRight", "ArrowUp", "ArrowUp"]:
        page.keyboard.press(key)
    cursor = page.locator(f"#{grid.get_attribute('aria-activedescendant')}")
    expect(cursor).to_have_attribute("aria-label", "D4, step 3: empty")
    assert (cursor.get_attribute("data-step"), cursor.get_attribute("data-pitch")) == ("2", "62")
    page.keyboard.press("Enter")  # a D4 there, in place of Ode to Joy's F4: the grid is drawn again
    cursor = page.locator("#grid .pr-cell.cursor")
    expect(cursor).to_have_attribute("aria-label", "D4, step 3: a note, 1/8", timeout=10_000)
    expect(grid).to_have_attribute("aria-activedescendant", cursor.get_attribute("id"))


AXE = Path(__file__).resolve().parents[2] / "node_modules" / "axe-core" / "axe.min.js"


def serious_violations(page):
    """axe-core's serious and critical violations on the page as it is: ``["rule: element", ...]``."""
    if not AXE.exists():
        pytest.fail(f"{AXE} is missing: `make test` installs axe-core (npm ci, pinned in package-lock.json).")
    if not page.evaluate("() => !!window.axe"):
        page.add_script_tag(path=str(AXE))
    # an event still running (on a busy machine, the page's first load) shows Gradio's own timer: settled first
    page.wait_for_function("() => !document.querySelector('.progress-text')", timeout=30_000)
    # what is shown fades in (a message at 30% opacity has a third of its contrast): check it when settled
    page.wait_for_function("() => document.getAnimations().every((a) => a.playState !== 'running' || "
                           "a.effect.getTiming().iterations === Infinity)", timeout=10_000)
    found = page.evaluate("""async () => (await axe.run(document, {resultTypes: ['violations']})).violations
        .filter((v) => ['serious', 'critical'].includes(v.impact))
        .flatMap((v) => v.nodes.map((n) => `${v.id}: ${n.target.join(' ')}: ${n.html.slice(0, 160)}`))""")
    return found


@pytest.mark.slow
def test_no_serious_accessibility_violations_in_any_state_of_the_page(page, browser, app_url):
    states = {"fresh": serious_violations(page)}
    for tab in ("Upload MIDI", "Type notes"):
        page.get_by_role("tab", name=tab).click()
        page.wait_for_timeout(300)
        states[tab] = serious_violations(page)
    page.locator("#notes textarea").fill("C4 zzz")
    expect(page.locator("#notes-message")).to_contain_text("is not a note", timeout=30_000)
    page.locator("#generate").click()
    expect(page.locator("#generate-message")).to_contain_text("mistake", timeout=30_000)
    states["an error shown"] = serious_violations(page)
    page.locator("#notes textarea").fill("C4 D4 E4")
    # "C4 D4 E4" alone would match the first seed (Ode to Joy has C4 C4 D4 E4): wait for the typed one
    expect(page.locator("#seed-text")).to_contain_text("3 notes", timeout=30_000)
    page.locator("#length input[type=range]").fill("8")
    for count in (1, 3):
        page.locator("#variations input[type=range]").fill(str(count))
        page.locator("#generate").click()
        expect(page.locator("#summary textarea")).to_have_value(re.compile(rf"^{count} variations? "), timeout=60_000)
        states[f"{count} variations"] = serious_violations(page)
    page.get_by_text("Advanced").click()
    page.get_by_text("Steer: pins, scale, loop, copy cap").click()
    expect(page.locator("#pins")).to_be_visible()
    states["Advanced and Steer open"] = serious_violations(page)
    phone = browser.new_context(viewport={"width": 390, "height": 844}, has_touch=True, is_mobile=True).new_page()
    phone.goto(app_url)
    phone.wait_for_selector("#grid .pr-cell", timeout=60_000)
    states["phone"] = serious_violations(phone)
    phone.context.close()
    assert {state: found for state, found in states.items() if found} == {}


@pytest.mark.slow
def test_gradio_reload_mode_serves_the_page_and_reloads_it_when_a_file_changes(browser, tmp_path):
    """`gradio app.py` on a copy of the repository (the checkout stays as it is): the page is served,
    an edit to the page's module shows after a reload, and the rebuilt page still serves its files."""
    import os
    import shutil
    import signal
    import subprocess
    import sys
    import urllib.request

    from app_process import free_port

    root = Path(__file__).resolve().parents[2]
    copy = tmp_path / "repo"
    copy.mkdir()
    shutil.copy(root / "app.py", copy)
    shutil.copytree(root / "melody", copy / "melody", ignore=shutil.ignore_patterns("__pycache__"))
    port = free_port()
    env = dict(os.environ, GRADIO_SERVER_PORT=str(port), MELODY_TMP=str(tmp_path / "files"), HF_HUB_OFFLINE="1",
               MELODY_CHECKPOINT_DIR=str(root / "checkpoints"), GRADIO_ANALYTICS_ENABLED="False", PYTHONUNBUFFERED="1")
    env.pop("GRADIO_TEMP_DIR", None)
    log = tmp_path / "gradio.log"
    with open(log, "w") as out:
        process = subprocess.Popen([str(Path(sys.executable).parent / "gradio"), "app.py"], cwd=copy, env=env,
                                   stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}/"

    def config():
        try:
            with urllib.request.urlopen(url + "config", timeout=5) as response:
                return response.read().decode()
        except OSError:
            assert process.poll() is None, log.read_text()
            return ""

    try:
        wait_until(lambda: "Melody playground" in config(), 120)
        page = browser.new_context(viewport={"width": 1400, "height": 1300}).new_page()
        page.goto(url)
        expect(page.locator("h1")).to_have_text("Melody playground", timeout=60_000)
        module = copy / "melody" / "web" / "page.py"
        module.write_text(module.read_text().replace("# Melody playground\\n", "# Melody playground, reloaded\\n"))
        wait_until(lambda: "Melody playground, reloaded" in config(), 60)
        page.reload()
        expect(page.locator("h1")).to_have_text("Melody playground, reloaded", timeout=60_000)
        page.locator("#length input[type=range]").fill("8")
        page.locator("#generate").click()
        link = page.locator("#midi-1 a").first
        expect(link).to_be_visible(timeout=60_000)
        assert page.request.get(link.get_attribute("href")).body()[:4] == b"MThd"  # served from the same folder
        page.context.close()
        assert "Traceback" not in log.read_text(), log.read_text()
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
