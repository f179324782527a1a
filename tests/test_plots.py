import numpy as np

from melody.plots import CONTINUATION_RGB, SEED_RGB, piano_roll_figure, pitch_class_figure, save_png


def test_piano_roll_colours_seed_and_continuation():
    seed, continuation = [60, 62, 64], [65, 67, 90, 54]
    fig = piano_roll_figure(seed, continuation)
    image = np.asarray(fig.axes[0].images[0].get_array()) / 255
    assert image.shape[:2] == (37, 7)
    for step, pitch in enumerate(seed):
        assert np.allclose(image[pitch - 54, step], SEED_RGB, atol=0.005)
    for step, pitch in enumerate(continuation, start=len(seed)):
        assert np.allclose(image[pitch - 54, step], CONTINUATION_RGB, atol=0.005)
    assert np.allclose(image[0, 0], 1.0)  # empty cells stay white


def test_probabilities_shade_only_generated_steps():
    probs = np.zeros((2, 37))
    probs[:, 10] = 1.0
    image = np.asarray(piano_roll_figure([60], [61, 62], probs).axes[0].images[0].get_array()) / 255
    assert image[10, 1].mean() < 0.9 and image[10, 2].mean() < 0.9  # shaded behind generated steps
    assert np.allclose(image[10, 0], 1.0)  # not behind the seed
    assert np.allclose(image[11, 1], 1.0)  # zero probability stays white


def test_seed_end_line_note_names_and_png():
    fig = piano_roll_figure([60, 62], [64, 65])
    ax = fig.axes[0]
    labels = [t.get_text() for t in ax.get_yticklabels()]
    assert {"C4", "C5", "C6"} <= set(labels)
    assert any(line.get_linestyle() == "--" and line.get_xdata()[0] == 1.5 for line in ax.get_lines())
    assert save_png(fig)[:8] == b"\x89PNG\r\n\x1a\n"


def test_pitch_class_histogram_shares():
    fig = pitch_class_figure([60, 64, 67, 60], [62, 62])
    bars = fig.axes[0].patches
    seed_heights = [b.get_height() for b in bars[:12]]
    continuation_heights = [b.get_height() for b in bars[12:]]
    assert seed_heights[0] == 0.5 and seed_heights[4] == 0.25 and seed_heights[7] == 0.25
    assert continuation_heights[2] == 1.0


def test_quick_piano_roll_matches_a_full_drawing(tmp_path):
    from PIL import Image

    from melody.plots import save_piano_roll

    rng = np.random.default_rng(0)
    seed = [60, 62, 64, 65, 67, 69, 71, 72] * 2
    first, second = ([int(p) for p in rng.integers(54, 91, 48)] for _ in range(2))
    probs = rng.dirichlet(np.ones(37), 48)
    save_piano_roll(tmp_path / "a.png", seed, first, probs)  # draws and keeps the layout
    save_piano_roll(tmp_path / "b.png", seed, second, probs)  # reuses it
    save_png(piano_roll_figure(seed, second, probs), tmp_path / "full.png")
    quick = np.asarray(Image.open(tmp_path / "b.png").convert("RGB"))
    full = np.asarray(Image.open(tmp_path / "full.png").convert("RGB"))
    assert quick.shape == full.shape and np.array_equal(quick, full)
    assert not np.array_equal(quick, np.asarray(Image.open(tmp_path / "a.png").convert("RGB")))
