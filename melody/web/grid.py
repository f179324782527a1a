"""The drawing grid: a monophonic piano roll built on ``gr.HTML`` (templates in grid.html/.css/.js).

Its value is ``{"unit": 2, "cells": [60, None, {"note": 64, "len": 2}, {"pin": 67}]}``: sixteenths
per column (2: eighths, 1: sixteenths), then one entry per column: None where nothing starts (a rest,
or a note still sounding), a MIDI pitch (a note one column long), a longer note, or a pin; trailing
empty columns trimmed (``melody.serve.seed_sources.grid_notes`` reads it, ``grid_value`` makes it from a seed);
and, when it is not 4/4, its meter: ``"meter": [3, 4]`` (bar lines and beats; the *Meter* menu sets it).
A plain list of cells also works (eighth columns).
"""
from pathlib import Path

import gradio as gr

from ..music.encoding import RHYTHM

HERE = Path(__file__).resolve().parent
GRID_STEPS = 64


def piano_grid(value=None, steps=GRID_STEPS, samples="", config=RHYTHM, **kwargs):
    """A ``gr.HTML`` piano-roll grid: a row for each pitch of the model's range (``config``, an
    ``EncodingConfig``: MIDI 54..90, C rows marked), ``steps`` columns of an eighth or a sixteenth,
    click to draw a note, drag along its row to lengthen it (up to the encoding's longest note), click a
    note to remove it; Undo, Clear, zoom, snap to a scale.
    ``samples`` is the address of a folder of ``p<pitch>.wav`` files: a note sounds as it is drawn."""
    return gr.HTML(
        value=value if isinstance(value, dict) else list(value or []),
        html_template=(HERE / "grid.html").read_text(),
        css_template=(HERE / "grid.css").read_text(),
        js_on_load=(HERE / "grid.js").read_text(),
        apply_default_css=False,
        low=config.lowest_pitch,
        high=config.highest_pitch,
        whole=4 * config.steps_per_quarter,  # steps in a whole note: the grid's sixteenths
        longest=config.max_steps,
        steps=steps,
        samples=samples,
        **kwargs,
    )


