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

from ..music.keys import PITCH_CLASS_NAMES  # noqa: E402
from ..music.notes import HIGHEST_PITCH, LOWEST_PITCH, STEPS_PER_WHOLE, note_name  # noqa: E402

SEED_RGB = np.array([0.20, 0.45, 0.80])
CONTINUATION_RGB = np.array([0.93, 0.42, 0.10])
PROBABILITY_RGB = np.array([0.35, 0.35, 0.35])
MAX_BAR_LABELS = 16
PAD_STEPS = 64  # the drawn time is padded to a multiple of this, so that similar results share a layout


def as_notes(melody, start=0):
    """Notes ``(onset_step, steps, pitch)`` of a melody given as notes, or as plain pitches (then one
    eighth note each from ``start``)."""
    melody = list(melody)
    if melody and isinstance(melody[0], (int, np.integer)):
        return [(start + 2 * i, 2, int(p)) for i, p in enumerate(melody)]
    return [tuple(int(x) for x in note) for note in melody]


def _span(seed, continuation):
    """``(first step, last step + 1)`` of the notes of both (0, 1 when there are none)."""
    notes = seed + continuation
    if not notes:
        return 0, 1
    return min(n[0] for n in notes), max(n[0] + n[1] for n in notes)


def roll_image(seed, continuation, probs=None, low=LOWEST_PITCH, high=HIGHEST_PITCH, origin=None, end=None):
    """The piano roll's pixels: one per (pitch, 16th step), uint8 RGBA ``[high - low + 1, steps, 4]``.

    ``seed`` and ``continuation`` are notes ``(onset, steps, pitch)`` (or pitches, as eighths);
    ``probs`` ``[len(continuation), high - low + 1]`` shades each continuation note's time with the
    model's probability of every pitch there. ``origin`` is the step of the first column, ``end`` the
    step after the last (default: after the last note).
    """
    seed = as_notes(seed)
    continuation = as_notes(continuation, seed[-1][0] + seed[-1][1] if seed else 0)
    first, last = _span(seed, continuation)
    origin = first if origin is None else origin
    rows, columns = high - low + 1, max((last if end is None else end) - origin, 1)
    image = np.ones((rows, columns, 3))
    if probs is not None and len(continuation):
        shade = np.asarray(probs, dtype=float)[: len(continuation), :rows]
        shade = shade / max(shade.max(), 1e-9)
        for (onset, steps, _), column in zip(continuation, shade):
            image[:, onset - origin : onset - origin + steps] -= (column[:, None, None] ** 0.5
                                                                  * (1 - PROBABILITY_RGB) * 0.8)
    for notes, colour in ((seed, SEED_RGB), (continuation, CONTINUATION_RGB)):
        for onset, steps, pitch in notes:
            image[min(max(pitch, low), high) - low, onset - origin : onset - origin + steps] = colour
    pixels = np.full((rows, columns, 4), 255, np.uint8)  # opaque RGBA: matplotlib draws it as it is,
    pixels[..., :3] = np.clip(image, 0, 1) * 255  # a few times faster than RGB, which it converts first
    return pixels


def piano_roll_figure(seed, continuation, probs=None, steps_per_bar=STEPS_PER_WHOLE, bar_offset=0, low=LOWEST_PITCH,
                      high=HIGHEST_PITCH, title=None, origin=None, end=None):
    """Piano roll of a seed (blue) and its continuation (orange), in time: one column per 16th note.

    Parameters
    ----------
    seed, continuation : list of (onset_step, duration_steps, pitch)
        Notes on the 16th-note grid (``Melody.notes``); plain MIDI pitches are drawn as eighth notes.
    probs : array ``[len(continuation), high - low + 1]``, optional
        The model's probability of every pitch for each generated note, shaded behind it.
    steps_per_bar, bar_offset : int
        The bar grid (``Melody.steps_per_bar``, ``Melody.bar_offset``); beats are every 4 steps.
    low, high : int
        Pitch range shown; notes outside it are drawn at the nearest edge.
    origin, end : int, optional
        The first step drawn, and the step after the last (default: the notes' span).

    Returns
    -------
    matplotlib.figure.Figure
    """
    seed = as_notes(seed)
    continuation = as_notes(continuation, seed[-1][0] + seed[-1][1] if seed else 0)
    first, last = _span(seed, continuation)
    origin = first if origin is None else origin
    image = roll_image(seed, continuation, probs, low, high, origin, end)
    steps = image.shape[1]
    width = figure_width(steps)
    fig = Figure(figsize=(width, 4.2), dpi=100)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    ax.imshow(image, origin="lower", aspect="auto", interpolation="nearest",
              extent=(origin - 0.5, origin + steps - 0.5, low - 0.5, high + 0.5))
    c_rows = [p for p in range(low, high + 1) if p % 12 == 0]
    ax.set_yticks(c_rows + [p for p in range(low, high + 1) if p % 12 in (4, 7)])
    ax.set_yticklabels([note_name(p) for p in ax.get_yticks()], fontsize=7)
    # One collection per kind of line: a Line2D per beat would dominate the drawing time.
    ax.hlines([p - 0.5 for p in c_rows], origin - 0.5, origin + steps - 0.5, colors="0.75", lw=0.6)
    # Bars every steps_per_bar from bar_offset (a 7/8 bar ends between two quarters), quarters between.
    beats = np.arange(origin + (bar_offset - origin) % 4, origin + steps + 1, 4)
    bars = np.arange(origin + (bar_offset - origin) % steps_per_bar, origin + steps + 1, steps_per_bar)
    ax.vlines(beats[(beats - bar_offset) % steps_per_bar != 0] - 0.5, low - 0.5, high + 0.5, colors="0.88", lw=0.4)
    ax.vlines(bars - 0.5, low - 0.5, high + 0.5, colors="0.55", lw=0.8)
    if seed and continuation:
        seed_end = continuation[0][0]
        ax.axvline(seed_end - 0.5, color="black", lw=1.6, ls="--")
        # Inside the roll, on the seed's side: clear of the key above it however long the seed is.
        ax.text(seed_end - 0.5, low + 0.2, "seed ends ", fontsize=7, va="bottom", ha="right",
                bbox=dict(facecolor="white", edgecolor="none", alpha=0.7, pad=1))
    ax.set_xlim(origin - 0.5, origin + steps - 0.5)
    bar_ticks = bars
    bar_ticks = bar_ticks[:: max(1, -(-len(bar_ticks) // MAX_BAR_LABELS))]  # a few numbers: ticks cost time
    ax.set_xticks(bar_ticks - 0.5)
    ax.set_xticklabels([str(int((b - bar_offset) // steps_per_bar) + 1) for b in bar_ticks], fontsize=7)
    ax.set_xlabel("bar", fontsize=8)
    if title:
        ax.set_title(title, fontsize=9, loc="left")
    # A key in words: one text instead of a legend (a legend costs a fifth of the drawing time).
    key = ["seed: blue"] if seed else []
    key += ["continuation: orange"] if continuation else []
    key += ["grey: the model's probability of each pitch"] if probs is not None and len(continuation) else []
    ax.set_title("   ".join(key), fontsize=7, loc="right")
    # Fixed margins in inches (tight_layout would measure every label: slow for a hot path).
    left, right = margins(width)
    fig.subplots_adjust(left=left, right=right, bottom=0.12, top=0.9)
    return fig


def figure_width(steps):
    """Inches of a piano roll of ``steps`` columns."""
    return min(max(6.0, steps * 0.025 + 1.5), 16.0)


def margins(width):
    """Where the plot starts and ends, as fractions of a figure ``width`` inches wide."""
    return 0.5 / width, 1 - 0.15 / width


def roll_timeline(seed, continuation, origin=None):
    """Where time runs in the picture ``save_piano_roll`` draws: ``(left, right, steps)``, the plot's
    edges as fractions of the picture's width and the 16th steps it spans from ``origin``."""
    seed = as_notes(seed)
    continuation = as_notes(continuation, seed[-1][0] + seed[-1][1] if seed else 0)
    origin, end = padded_span(seed, continuation, origin)
    steps = end - origin
    return (*margins(figure_width(steps)), steps)


_LAYOUTS = OrderedDict()  # layout key -> drawn layouts not in use (one thread draws on a figure at a time)
_LAYOUTS_LOCK = threading.Lock()
MAX_LAYOUTS = 8  # kept in all (each holds a figure and its background, a few MB)


def padded_span(seed, continuation, origin=None):
    """``(origin, end)`` steps a quick piano roll draws: the notes' span, padded to a multiple of
    ``PAD_STEPS`` so that results of similar lengths share one layout."""
    first, last = _span(as_notes(seed), as_notes(continuation))
    origin = first if origin is None else origin
    return origin, origin + -(-(last - origin) // PAD_STEPS) * PAD_STEPS


def save_piano_roll(path, seed, continuation, probs=None, low=LOWEST_PITCH, high=HIGHEST_PITCH, steps_per_bar=STEPS_PER_WHOLE,
                    bar_offset=0, origin=None):
    """Write ``piano_roll_figure(...)`` as a PNG, quickly when the layout repeats.

    What depends only on the layout (sizes of seed and continuation, pitch range, shading or
    not) - axes, labels, beat grid - is drawn once and kept (for any thread); a new piano roll then
    restores that background and draws only the notes and the lines over them (matplotlib's
    "blitting"), a few times faster than a full drawing.
    """
    seed = as_notes(seed)
    continuation = as_notes(continuation, seed[-1][0] + seed[-1][1] if seed else 0)
    origin, end = padded_span(seed, continuation, origin)
    grid = dict(steps_per_bar=steps_per_bar, bar_offset=bar_offset, low=low, high=high, origin=origin, end=end)
    key = (continuation[0][0] if seed and continuation else None, bool(seed), bool(continuation),
           probs is not None, tuple(grid.values()))
    layout = _take_layout(key) or _draw_layout(seed, continuation, probs, grid)
    fig, ax, picture, background, over = layout
    fig.canvas.restore_region(background)
    picture.set_data(roll_image(seed, continuation, probs, low, high, origin, end))
    for artist in [picture, *over]:
        ax.draw_artist(artist)
    pixels = np.asarray(fig.canvas.buffer_rgba()).copy()  # the layout goes back before the slow part, the PNG
    _give_back_layout(key, layout)
    Image.fromarray(pixels).save(path, format="png", compress_level=1)
    return path


def _draw_layout(seed, continuation, probs, grid):
    """A full drawing whose background (everything but the notes and the lines over them) is kept."""
    fig = piano_roll_figure(seed, continuation, probs, **grid)
    ax = fig.axes[0]
    picture = ax.images[0]
    over = [a for a in ax.collections + ax.lines + ax.texts] + list(ax.spines.values())
    for artist in [picture, *over]:  # the background: everything but what is drawn per call
        artist.set_visible(False)
    fig.canvas.draw()
    background = fig.canvas.copy_from_bbox(fig.bbox)
    for artist in [picture, *over]:
        artist.set_visible(True)
    return fig, ax, picture, background, over


def _take_layout(key):
    """A kept layout for ``key``, now this thread's alone, or None (the server's requests run on
    whichever worker thread is free, so the layouts are shared between threads)."""
    with _LAYOUTS_LOCK:
        free = _LAYOUTS.get(key)
        if free:
            _LAYOUTS.move_to_end(key)
            return free.pop()
    return None


def _give_back_layout(key, layout):
    """Keep ``layout`` for the next roll of the same layout, forgetting the least recently used past ``MAX_LAYOUTS``."""
    with _LAYOUTS_LOCK:
        _LAYOUTS.setdefault(key, []).append(layout)
        _LAYOUTS.move_to_end(key)
        while sum(len(free) for free in _LAYOUTS.values()) > MAX_LAYOUTS:
            oldest = next(iter(_LAYOUTS))
            _LAYOUTS[oldest].pop(0)
            if not _LAYOUTS[oldest]:
                del _LAYOUTS[oldest]


def pitch_class_figure(seed, continuation):
    """Share of each pitch class (C .. B) in the seed and in the continuation (MIDI pitches), side by side."""
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
