import numpy as np

from melody.serve.plots import CONTINUATION_RGB, SEED_RGB, piano_roll_figure, pitch_class_figure, save_png


def test_piano_roll_draws_notes_with_their_lengths_in_time():
    seed = [(0, 4, 60), (4, 2, 62), (8, 4, 64)]  # a rest from step 6 to 8
    continuation = [(12, 2, 65), (14, 6, 90), (20, 1, 54)]
    image = np.asarray(piano_roll_figure(seed, continuation).axes[0].images[0].get_array())[..., :3] / 255
    assert image.shape[:2] == (37, 21)  # one column per 16th step
    for onset, steps, pitch in seed:
        assert np.allclose(image[pitch - 54, onset : onset + steps], SEED_RGB, atol=0.005)
    for onset, steps, pitch in continuation:
        assert np.allclose(image[pitch - 54, onset : onset + steps], CONTINUATION_RGB, atol=0.005)
    assert np.allclose(image[:, 6:8], 1.0)  # the rest is empty
    assert np.allclose(image[60 - 54, 4], 1.0)  # the first note ends after 4 steps


def test_plain_pitches_are_eighth_notes():
    image = np.asarray(piano_roll_figure([60, 62, 64], [65]).axes[0].images[0].get_array())[..., :3] / 255
    assert image.shape[:2] == (37, 8)
    assert np.allclose(image[64 - 54, 4:6], SEED_RGB, atol=0.005) and np.allclose(image[65 - 54, 6:8],
                                                                                   CONTINUATION_RGB, atol=0.005)


def test_probabilities_shade_only_generated_notes():
    probs = np.zeros((2, 37))
    probs[:, 10] = 1.0
    image = np.asarray(piano_roll_figure([(0, 2, 60)], [(2, 2, 61), (4, 4, 62)], probs).axes[0].images[0]
                       .get_array())[..., :3] / 255
    assert image[10, 2].mean() < 0.9 and image[10, 7].mean() < 0.9  # shaded behind generated notes
    assert np.allclose(image[10, 0], 1.0)  # not behind the seed
    assert np.allclose(image[11, 3], 1.0)  # zero probability stays white


def test_seed_end_line_bars_note_names_and_png():
    fig = piano_roll_figure([(0, 8, 60), (8, 8, 62)], [(16, 16, 64)], steps_per_bar=16)
    ax = fig.axes[0]
    labels = [t.get_text() for t in ax.get_yticklabels()]
    assert {"C4", "C5", "C6"} <= set(labels)
    assert any(line.get_linestyle() == "--" and line.get_xdata()[0] == 15.5 for line in ax.get_lines())
    assert [t.get_text() for t in ax.get_xticklabels()] == ["1", "2", "3"]
    assert save_png(fig)[:8] == b"\x89PNG\r\n\x1a\n"


def test_seed_end_label_stays_inside_the_roll_clear_of_the_key():
    fig = piano_roll_figure([(i, 1, 60) for i in range(32)], [(32 + i, 1, 62) for i in range(32)])
    label = next(t for t in fig.axes[0].texts if "seed ends" in t.get_text())
    assert label.get_position()[1] < 60  # near the bottom of the roll, not above it by the key
    for seed_length in (8, 32, 60):  # a short, a half and a long seed: the label never meets the key
        fig = piano_roll_figure([(i, 1, 60) for i in range(seed_length)], [(64 + i, 1, 62) for i in range(64)])
        fig.canvas.draw()
        renderer = fig.canvas.get_renderer()
        label = next(t for t in fig.axes[0].texts if "seed ends" in t.get_text())
        key = fig.axes[0]._right_title
        assert "seed: blue" in key.get_text()
        assert not label.get_window_extent(renderer).overlaps(key.get_window_extent(renderer))


def test_pitch_class_histogram_shares():
    fig = pitch_class_figure([60, 64, 67, 60], [62, 62])
    bars = fig.axes[0].patches
    seed_heights = [b.get_height() for b in bars[:12]]
    continuation_heights = [b.get_height() for b in bars[12:]]
    assert seed_heights[0] == 0.5 and seed_heights[4] == 0.25 and seed_heights[7] == 0.25
    assert continuation_heights[2] == 1.0


def test_quick_piano_roll_matches_a_full_drawing(tmp_path):
    from PIL import Image

    from melody.serve.plots import padded_span, save_piano_roll

    rng = np.random.default_rng(0)
    seed = [(2 * i, 2, p) for i, p in enumerate([60, 62, 64, 65, 67, 69, 71, 72] * 2)]
    first, second = ([(32 + 3 * i, 1 + i % 3, int(p)) for i, p in enumerate(rng.integers(54, 91, 48))]
                     for _ in range(2))
    probs = rng.dirichlet(np.ones(37), 48)
    save_piano_roll(tmp_path / "a.png", seed, first, probs)  # draws and keeps the layout
    save_piano_roll(tmp_path / "b.png", seed, second, probs)  # reuses it
    origin, end = padded_span(seed, second)
    assert end - origin == 192  # 176 steps of notes, padded so that similar lengths share one layout
    save_png(piano_roll_figure(seed, second, probs, origin=origin, end=end), tmp_path / "full.png")
    quick = np.asarray(Image.open(tmp_path / "b.png").convert("RGB"))
    full = np.asarray(Image.open(tmp_path / "full.png").convert("RGB"))
    assert quick.shape == full.shape and np.array_equal(quick, full)
    assert not np.array_equal(quick, np.asarray(Image.open(tmp_path / "a.png").convert("RGB")))
