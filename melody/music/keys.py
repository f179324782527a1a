"""Key estimation (Krumhansl-Schmuckler) and the shift that takes a piece to C major / A minor."""
import numpy as np

# Krumhansl & Kessler (1982) probe-tone profiles, index 0 = tonic.
MAJOR_PROFILE = np.array([6.35, 2.23, 3.48, 2.33, 4.38, 4.09, 2.52, 5.19, 2.39, 3.66, 2.29, 2.88])
MINOR_PROFILE = np.array([6.33, 2.68, 3.52, 5.38, 2.60, 3.53, 2.54, 4.75, 3.98, 2.69, 3.34, 3.17])
PITCH_CLASS_NAMES = ["C", "C#", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B"]


def pitch_class_histogram(pitches, weights=None):
    """Twelve-bin histogram of pitch classes, optionally weighted (e.g. by duration in beats)."""
    pitches = np.asarray(pitches, dtype=np.int64)
    weights = np.ones(len(pitches)) if weights is None else np.asarray(weights, dtype=np.float64)
    return np.bincount(pitches % 12, weights=weights, minlength=12)


def estimate_key(histogram):
    """Best-correlating key of a pitch-class histogram.

    Returns
    -------
    (tonic, mode) : (int, str)
        Tonic pitch class (0 = C) and ``"major"`` or ``"minor"``. An empty or flat
        histogram gives C major.
    """
    histogram = np.asarray(histogram, dtype=np.float64)
    if histogram.sum() <= 0 or np.allclose(histogram, histogram[0]):
        return 0, "major"
    best = (-2.0, 0, "major")
    for mode, profile in (("major", MAJOR_PROFILE), ("minor", MINOR_PROFILE)):
        for tonic in range(12):
            r = np.corrcoef(histogram, np.roll(profile, tonic))[0, 1]
            if r > best[0] + 1e-12:
                best = (r, tonic, mode)
    return best[1], best[2]


def shift_to_c(tonic, mode):
    """Semitones (-6..5) to add so that the key becomes C major, or A minor for a minor key."""
    target = 0 if mode == "major" else 9
    return (target - tonic + 6) % 12 - 6


def key_name(tonic, mode):
    """Readable key name such as ``"D major"``."""
    return f"{PITCH_CLASS_NAMES[tonic % 12]} {mode}"


def key_in_c(key):
    """The key of a melody moved to the model's key: ``"A minor"`` for a minor key, else ``"C major"``."""
    return "A minor" if str(key).endswith("minor") else "C major"
