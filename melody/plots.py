"""Pictures of melodies (matplotlib): the piano roll of seed and continuation, and pitch-class histograms."""
import io

import matplotlib

matplotlib.use("Agg")  # no display: figures are only ever saved to files
import numpy as np  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from .keys import PITCH_CLASS_NAMES  # noqa: E402
from .notes import HIGHEST_PITCH, LOWEST_PITCH, note_name  # noqa: E402

SEED_RGB = np.array([0.20, 0.45, 0.80])
CONTINUATION_RGB = np.array([0.93, 0.42, 0.10])
PROBABILITY_RGB = np.array([0.35, 0.35, 0.35])


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
    width = min(max(6.0, steps * 0.06 + 1.5), 24.0)
    fig = Figure(figsize=(width, 4.2), dpi=100)
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
    handles = [matplotlib.patches.Patch(color=SEED_RGB, label="seed")] if seed else []
    if continuation:
        handles.append(matplotlib.patches.Patch(color=CONTINUATION_RGB, label="continuation"))
    if probs is not None and len(continuation):
        handles.append(matplotlib.patches.Patch(color=PROBABILITY_RGB, alpha=0.5, label="model probability"))
    ax.legend(handles=handles, loc="lower right", bbox_to_anchor=(1.0, 1.0), fontsize=7, frameon=False,
              ncol=len(handles), borderaxespad=0.2)
    # Fixed margins in inches (tight_layout would measure every label: slow for a hot path).
    fig.subplots_adjust(left=0.5 / width, right=1 - 0.15 / width, bottom=0.12, top=0.9)
    return fig


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
        fig.savefig(buffer, format="png")
        return buffer.getvalue()
    fig.savefig(path, format="png")
    return path
