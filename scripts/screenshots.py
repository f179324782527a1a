"""Refresh the README's screenshots of the playground (`make screenshots`): starts `python app.py`,
draws a seed in Debian's Chromium, generates, and saves docs/playground.png."""
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from app_process import start_app, stop_app  # noqa: E402
from playwright.sync_api import expect, sync_playwright  # noqa: E402
from test_browser import ARGS, CHROMIUM, DRAWN  # noqa: E402

DOCS = ROOT / "docs"


def main():
    with tempfile.TemporaryDirectory() as tmp:
        process, url, _ = start_app(Path(tmp) / "app.log", env={"MELODY_TMP": tmp})
        try:
            with sync_playwright() as p:
                browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
                page = browser.new_page(viewport={"width": 1400, "height": 1300})
                page.goto(url)
                page.wait_for_selector("#grid .pr-cell", timeout=60_000)
                page.locator('#grid [data-action="clear"]').click()
                for step, pitch in DRAWN:
                    page.locator(f'#grid .pr-cell[data-step="{step}"][data-pitch="{pitch}"]').click()
                page.locator("#generate").click()
                expect(page.locator("#roll-1 img")).to_be_visible(timeout=60_000)
                page.wait_for_timeout(1000)
                DOCS.mkdir(exist_ok=True)
                page.screenshot(path=str(DOCS / "playground.png"), full_page=True)
                browser.close()
        finally:
            stop_app(process)
    print(f"wrote {DOCS / 'playground.png'}")


if __name__ == "__main__":
    main()
