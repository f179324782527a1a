"""Pictures of melodies (matplotlib): the piano roll of seed and continuation, and pitch-class histograms."""
import io

import matplotlib

matplotlib.use("Agg")  # no display: figures are only ever saved to files
import threading  # noqa: E402
from collections import OrderedDict  # noqa: E402

import numpy as np  # noqa: E402
from matplotlib.backends.backend_agg import FigureCanvasAgg  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from PIL import Image  # noqa: E402

from .keys import PITCH_CLASS_NAMES  # noqa: E402
from .notes import HIGHEST_PITCH, LOWEST_PITCH, note_name  # noqa: E402

SEED_RGB = np.array([0.20, 0.45, 0.80])
CONTINUATION_RGB = np.array([0.93, 0.42, 0.10])
PROBABILITY_RGB = np.array([0.35, 0.35, 0.35])


def roll_image(seed, continuation, probs=None, low=LOWEST_PITCH, high=HIGHEST_PITCH):
    """The piano roll's pixels: one per (pitch, note), uint8 RGB ``[high - low + 1, notes]``."""
    pitches = list(seed) + list(continuation)
    rows, steps = high - low + 1, max(len(pitches), 1)
    # One RGB image, one pixel per (pitch, step): far faster than a rectangle per note.
    image = np.ones((rows, steps, 3))
    if probs is not None and len(continuation):
        shade = np.asarray(probs, dtype=float)[: len(continuation), :rows].T
        shade = shade / max(shade.max(), 1e-9)
        image[:, len(seed) : len(seed) + shade.shape[1]] -= shade[..., None] ** 0.5 * (1 - PROBABILITY_RGB) * 0.8
    for step, pitch in enumerate(pitches):
        image[min(max(pitch, low), high) - low, step] = SEED_RGB if step < len(seed) else CONTINUATION_RGB
    return (image * 255).astype(np.uint8)


def piano_roll_figure(seed, continuation, probs=None, notes_per_beat=2, beats_per_bar=4,
                      low=LOWEST_PITCH, high=HIGHEST_PITCH, title=None):
    """Piano roll of a seed (blue) and its continuation (orange), one column per note.

    Parameters
    ----------
    seed, continuation : list of int
        MIDI pitches.
    probs : array ``[len(continuation), high - low + 1]``, optional
        The model's probability of every pitch at every generated step, shaded behind the notes.
    notes_per_beat, beats_per_bar : int
        For the beat grid (2 = eighth notes).
    low, high : int
        Pitch range shown; notes outside it are drawn at the nearest edge.

    Returns
    -------
    matplotlib.figure.Figure
    """
    image = roll_image(seed, continuation, probs, low, high)
    steps = image.shape[1]
    width = min(max(6.0, steps * 0.05 + 1.5), 16.0)
    fig = Figure(figsize=(width, 4.2), dpi=100)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    ax.imshow(image, origin="lower", aspect="auto", interpolation="nearest",
              extent=(-0.5, steps - 0.5, low - 0.5, high + 0.5))
    c_rows = [p for p in range(low, high + 1) if p % 12 == 0]
    ax.set_yticks(c_rows + [p for p in range(low, high + 1) if p % 12 in (4, 7)])
    ax.set_yticklabels([note_name(p) for p in ax.get_yticks()], fontsize=7)
    # One collection per kind of line: a Line2D per beat would dominate the drawing time.
    ax.hlines([p - 0.5 for p in c_rows], -0.5, steps - 0.5, colors="0.75", lw=0.6)
    bar = notes_per_beat * beats_per_bar
    beats = np.arange(0, steps + 1, notes_per_beat) - 0.5
    is_bar = (np.arange(len(beats)) * notes_per_beat) % bar == 0
    ax.vlines(beats[~is_bar], low - 0.5, high + 0.5, colors="0.88", lw=0.4)
    ax.vlines(beats[is_bar], low - 0.5, high + 0.5, colors="0.55", lw=0.8)
    if seed and continuation:
        ax.axvline(len(seed) - 0.5, color="black", lw=1.6, ls="--")
        ax.text(len(seed) - 0.5, high + 0.7, "seed ends ", fontsize=7, va="bottom", ha="right")
    ax.set_xlim(-0.5, steps - 0.5)
    ax.set_xlabel(f"note (beats: {notes_per_beat} notes each)", fontsize=8)
    ax.tick_params(axis="x", labelsize=7)
    if title:
        ax.set_title(title, fontsize=9, loc="left")
    # A key in words: one text instead of a legend (a legend costs a fifth of the drawing time).
    key = ["seed: blue"] if seed else []
    key += ["continuation: orange"] if continuation else []
    key += ["grey: the model's probability of each pitch"] if probs is not None and len(continuation) else []
    ax.set_title("   ".join(key), fontsize=7, loc="right")
    # Fixed margins in inches (tight_layout would measure every label: slow for a hot path).
    fig.subplots_adjust(left=0.5 / width, right=1 - 0.15 / width, bottom=0.12, top=0.9)
    return fig


_LAYOUTS = threading.local()  # per thread: figures are not shared between threads
MAX_LAYOUTS = 4


def save_piano_roll(path, seed, continuation, probs=None, low=LOWEST_PITCH, high=HIGHEST_PITCH):
    """Write ``piano_roll_figure(...)`` as a PNG, quickly when the layout repeats.

    What depends only on the layout (sizes of seed and continuation, pitch range, shading or
    not) - axes, labels, beat grid - is drawn once per thread and kept; a new piano roll then
    restores that background and draws only the notes and the lines over them (matplotlib's
    "blitting"), a few times faster than a full drawing.
    """
    key = (len(seed), len(continuation), low, high, probs is not None)
    layouts = getattr(_LAYOUTS, "cache", None)
    if layouts is None:
        layouts = _LAYOUTS.cache = OrderedDict()
    if key not in layouts:
        fig = piano_roll_figure(seed, continuation, probs, low=low, high=high)
        ax = fig.axes[0]
        picture = ax.images[0]
        over = [a for a in ax.collections + ax.lines] + list(ax.spines.values())
        for artist in [picture, *over]:  # the background: everything but what is drawn per call
            artist.set_visible(False)
        fig.canvas.draw()
        background = fig.canvas.copy_from_bbox(fig.bbox)
        for artist in [picture, *over]:
            artist.set_visible(True)
        layouts[key] = (fig, ax, picture, background, over)
        while len(layouts) > MAX_LAYOUTS:
            layouts.popitem(last=False)
    layouts.move_to_end(key)
    fig, ax, picture, background, over = layouts[key]
    fig.canvas.restore_region(background)
    picture.set_data(roll_image(seed, continuation, probs, low, high))
    for artist in [picture, *over]:
        ax.draw_artist(artist)
    Image.fromarray(np.asarray(fig.canvas.buffer_rgba())).save(path, format="png", compress_level=1)
    return path


def pitch_class_figure(seed, continuation):
    """Share of each pitch class (C .. B) in the seed and in the continuation, side by side."""
    fig = Figure(figsize=(6, 2.6), dpi=100)
    ax = fig.add_subplot()
    x = np.arange(12)
    for offset, (label, pitches, color) in zip((-0.2, 0.2), (("seed", seed, SEED_RGB),
                                                             ("continuation", continuation, CONTINUATION_RGB))):
        counts = np.bincount(np.asarray(pitches, dtype=int) % 12, minlength=12).astype(float)
        ax.bar(x + offset, counts / max(counts.sum(), 1), width=0.4, color=color, label=label)
    ax.set_xticks(x)
    ax.set_xticklabels(PITCH_CLASS_NAMES, fontsize=8)
    ax.set_ylabel("share of notes", fontsize=8)
    ax.tick_params(axis="y", labelsize=7)
    ax.legend(fontsize=7)
    ax.set_title("Pitch classes: seed vs. continuation", fontsize=9)
    fig.tight_layout()
    return fig


def save_png(fig, path=None):
    """Write a figure as PNG to ``path`` (or return the bytes when ``path`` is None)."""
    if path is None:
        buffer = io.BytesIO()
        fig.savefig(buffer, format="png", pil_kwargs={"compress_level": 1})
        return buffer.getvalue()
    fig.savefig(path, format="png", pil_kwargs={"compress_level": 1})  # fast zlib: a bigger file but quicker
    return path
