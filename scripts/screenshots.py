"""Refresh the README's screenshots of the playground (`make screenshots`): starts `python app.py`,
draws a seed with lengths and a rest in Debian's Chromium, pins a note, generates, and saves docs/playground.png (desktop) and
docs/playground-phone.png (a phone's screen)."""
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from app_process import start_app, stop_app  # noqa: E402
from playwright.sync_api import expect, sync_playwright  # noqa: E402
from test_browser import ARGS, CHROMIUM, DRAWN, drag  # noqa: E402

DOCS = ROOT / "docs"


def main():
    with tempfile.TemporaryDirectory() as tmp:
        process, url, _ = start_app(Path(tmp) / "app.log", env={"MELODY_TMP": tmp})
        try:
            with sync_playwright() as p:
                browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
                page = browser.new_page(viewport={"width": 1400, "height": 900})
                page.goto(url)
                page.wait_for_selector("#grid .pr-cell", timeout=60_000)
                page.locator('#grid [data-action="clear"]').click()
                for step, pitch in DRAWN:
                    page.locator(f'#grid .pr-cell[data-step="{step}"][data-pitch="{pitch}"]').click()
                drag(page, (5, 67), (6, 67))  # the last G4 held a quarter, then a rest and a half note
                drag(page, (8, 64), (11, 64))
                page.locator('#grid [data-action="pin"]').click()
                page.locator('#grid .pr-cell[data-step="21"][data-pitch="72"]').click()
                page.get_by_text("Steer: pins, scale, loop, copy cap").click()
                page.locator("#generate").click()
                expect(page.locator("#roll-1 img")).to_be_visible(timeout=60_000)
                page.wait_for_timeout(1000)
                DOCS.mkdir(exist_ok=True)
                page.screenshot(path=str(DOCS / "playground.png"), full_page=True)
                phone = browser.new_context(viewport={"width": 390, "height": 844}, has_touch=True, is_mobile=True)
                small = phone.new_page()
                small.goto(url)
                small.wait_for_selector("#grid .pr-cell", timeout=60_000)
                small.wait_for_timeout(1000)
                small.screenshot(path=str(DOCS / "playground-phone.png"))
                browser.close()
        finally:
            stop_app(process)
    print(f"wrote {DOCS / 'playground.png'} and {DOCS / 'playground-phone.png'}")


if __name__ == "__main__":
    main()
