"""ABC tunes built in code, for the folk-song reader and the corpus code."""
from pathlib import Path

HEADER = "X:{number}\nT:Tune {number}\nM:{meter}\nL:1/8\nK:{key}\n"
# A jig with an upbeat, a grace note, a broken rhythm, a guitar chord, a chord, a rest, a tie and a triplet.
JIG = 'D|:GAB c2d|e2f g3|{a}gfe d>cB|"G"[DGB]2 z B2-B|(3ABc d2 e|]\n'


def tune_text(body, number=1, meter="6/8", key="G"):
    """One ABC tune: header (L:1/8, so an unmarked note is half a quarter note) and ``body``."""
    return HEADER.format(number=number, meter=meter, key=key) + body


def write_abc_files(folder, files=3, tunes=4):
    """``files`` ABC files of ``tunes`` numbered jigs each, for the folk corpus code."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    for f in range(files):
        text = "\n".join(tune_text(JIG, number=1 + i + 1000 * f) for i in range(tunes))
        (folder / f"tunes{f:02d}.abc").write_text(text)
    return sorted(folder.glob("*.abc"))
