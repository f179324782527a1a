"""The drawing grid: a monophonic piano roll built on ``gr.HTML`` (templates in grid.html/.css/.js).

Its value is a list with one entry per step, a MIDI pitch or None for an empty step, trailing
empty steps trimmed: ``[60, None, 64]``. Python may set it with a plain list of pitches, which fills
steps 0, 1, 2, ...
"""
from pathlib import Path

import gradio as gr

from ..notes import HIGHEST_PITCH, LOWEST_PITCH

HERE = Path(__file__).resolve().parent
GRID_STEPS = 64


def piano_grid(value=None, steps=GRID_STEPS, samples="", **kwargs):
    """A ``gr.HTML`` piano-roll grid: 37 rows (MIDI 54..90, C rows marked), ``steps`` columns,
    click or drag to draw one note per step, click a note to remove it, Undo and Clear buttons.
    ``samples`` is the address of a folder of ``p<pitch>.wav`` files: a note sounds as it is drawn."""
    return gr.HTML(
        value=list(value or []),
        html_template=(HERE / "grid.html").read_text(),
        css_template=(HERE / "grid.css").read_text(),
        js_on_load=(HERE / "grid.js").read_text(),
        apply_default_css=False,
        low=LOWEST_PITCH,
        high=HIGHEST_PITCH,
        steps=steps,
        samples=samples,
        **kwargs,
    )


