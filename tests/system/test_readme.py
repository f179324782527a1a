"""Every code block of the README and of the docs/ pages runs as written, and every relative link of
those pages leads somewhere.

The ```sh and ```python blocks of README.md, then of docs/*.md in alphabetical order, run in that
order (a block that is not meant to run is tagged otherwise: ```text, ```console). Commands run from
a scratch folder that looks like the repository root (links to `.venv`, `app.py`, the Makefile...),
with `song.mid`, `my-midis/` and a `../shared/data/` of small built files (standing in for POP909 and
the Pokémon files, so that a clone without `../shared` runs them too) made there, so that nothing
lands in the checkout. Every training command runs with a step budget (`--max-steps 1`) and must
finish as usual; the plain `train.py` (hours on the folk songs) is stopped with Ctrl-C at its first
step (of one long epoch, as on all the folk songs), which must end it cleanly, and the next command
resumes it. The scratch `train.py` is the real one, run on the 4 smallest of music21's 1,129
folk-song files (all of them take a minute to read). What runs for ever (the playground) runs until
its page answers and is then stopped with SIGTERM. `make test` itself is the one line not run: it is
what runs this test.
"""
import os
import re
import shutil
import signal
import subprocess
import threading
import time
import tomllib
from pathlib import Path

import pytest
from app_process import start_app, stop_app
from midi_factory import POKEMON_DIR, write_melody, write_small_corpus

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text()
PAGES = [ROOT / "README.md"] + sorted((ROOT / "docs").glob("*.md"))  # the order their blocks run in
MAX_README_LINES = 250  # the rest belongs in docs/
BLOCK = re.compile(r"^```(\w+)\n(.*?)^```", re.MULTILINE | re.DOTALL)
FENCE = re.compile(r"^```.*?^```[^\n]*$", re.MULTILINE | re.DOTALL)
LINK = re.compile(r"!?\[(?:[^\]\[]|\[[^\]]*\])*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")  # [text](target), ![alt](src)
HTML_LINK = re.compile(r"""<(?:img|a|source|audio)\b[^>]*?\b(?:src|href)=["']([^"']+)["']""", re.IGNORECASE)
HEADING = re.compile(r"^#{1,6}\s+(.+?)\s*#*\s*$", re.MULTILINE)
LINKED = ["app.py", "Makefile", "scripts", "requirements.txt", "requirements-train.txt", "requirements-dev.txt"]
STEP_BUDGET = " --max-steps 1"  # every README training command trains a step, then finishes as usual
FOLK_FILES = 4
TRAIN_SHELL = f'''"""train.py as the README test runs it: the real one, on the {FOLK_FILES} smallest of music21's folk-song files."""
import runpy

from melody.data import corpus

every_file = corpus.folk_corpus_files
corpus.folk_corpus_files = lambda *args, **kwargs: sorted(every_file(*args, **kwargs),
                                                          key=lambda path: path.stat().st_size)[:{FOLK_FILES}]
runpy.run_path({str(ROOT / "train.py")!r}, run_name="__main__")
'''

def blocks(language, pages=PAGES):
    """The code blocks tagged ``language``, of the README and then of every docs/ page, in order."""
    return [text for page in pages for lang, text in BLOCK.findall(page.read_text()) if lang == language]


SHELL_PAGES = [page for page in PAGES if blocks("sh", [page])]


def commands(text):
    """The command lines of a shell block: continuation lines joined, comments dropped."""
    joined = re.sub(r"\\\n\s*", " ", text)
    lines = [re.sub(r"\s+#.*$", "", line).strip() for line in joined.splitlines()]
    return [line for line in lines if line and not line.startswith("#")]


@pytest.fixture(scope="module")
def scratch(tmp_path_factory):
    """``(folder, environment)``: a folder that looks like the repository root, and what the commands run with."""
    tmp = tmp_path_factory.mktemp("readme")
    work = tmp / "work"
    work.mkdir()
    (work / ".venv").symlink_to(ROOT / ".venv")
    for name in LINKED:
        (work / name).symlink_to(ROOT / name)
    (work / "train.py").write_text(TRAIN_SHELL)
    for stand_in in ("pop909", "pokemon-midi"):  # the README's ../shared/data, small, whether or not it is there
        write_small_corpus(tmp / "shared" / "data" / stand_in, repeats=1)
    song = POKEMON_DIR / "Pokemon - Pallet Town.mid"
    if song.exists():
        shutil.copy(song, work / "song.mid")
    else:
        write_melody(work / "song.mid", [62, 64, 66, 67, 69, 71, 73, 74] * 8)
    write_small_corpus(work / "my-midis", repeats=1)
    write_small_corpus(tmp / "home" / "my-midis", repeats=1)
    checkpoints = tmp / "checkpoints"
    checkpoints.mkdir()
    for shipped in (ROOT / "checkpoints").glob("*.pt"):
        shutil.copy(shipped, checkpoints)
    (work / "checkpoints").symlink_to(checkpoints)  # commands that name checkpoints/... get the copies
    # The package comes from the checkout itself (not a link to it), so that numba finds the kernels it
    # compiled there in its cache instead of compiling them again for another path.
    env = dict(os.environ, PYTHONPATH=str(ROOT), HOME=str(tmp / "home"), MELODY_CACHE=str(tmp / "cache"),
               MELODY_CHECKPOINT_DIR=str(checkpoints), MELODY_TMP=str(tmp / "server"),
               GRADIO_ANALYTICS_ENABLED="False", PYTHONUNBUFFERED="1")
    env.pop("GRADIO_TEMP_DIR", None)
    return work, env


def run_until(command, cwd, env, ready, timeout_s, stop=signal.SIGTERM):
    """Run ``command`` (bash) until it exits, or until ``ready(output so far)`` and then send ``stop``;
    returns ``(exit status, output)``."""
    process = subprocess.Popen(["bash", "-c", command], cwd=cwd, env=env, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, start_new_session=True)
    lines = []  # chunks as they come: progress bars rewrite their line with \r, never ending it

    def read():
        while chunk := os.read(process.stdout.fileno(), 65536):
            lines.append(chunk.decode("utf-8", "replace"))

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    deadline = time.time() + timeout_s
    try:
        while process.poll() is None:
            if ready is not None and ready("".join(lines)):
                os.killpg(process.pid, stop)
                break
            if time.time() > deadline:
                raise AssertionError(f"'{command}' did not get there in {timeout_s} s:\n{''.join(lines)[-3000:]}")
            time.sleep(0.2)
        try:
            process.wait(300)
        except subprocess.TimeoutExpired:
            raise AssertionError(f"'{command}' did not end within 300 s of being stopped:\n"
                                 f"{''.join(lines)[-3000:]}") from None
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
    reader.join(10)
    return process.returncode, "".join(lines)


def run_shell_line(line, work, env):
    """One README command: how long it may take, and what shows that it worked."""
    if line.startswith("make test"):
        return  # this test is part of it
    if line.startswith("pip install"):
        return run_pip(line, work, env)
    if line.startswith("make run") or ("app.py" in line and "train.py" not in line):
        status, output = run_until(line, work, env, lambda out: "Melody playground: http" in out, 300)
        assert "Melody playground: http" in output and status in (0, -signal.SIGTERM), output[-3000:]
        return
    if "--fit-sampling" in line:
        status, output = run_until(line, work, env, None, 600)
        assert status == 0 and "written to" in output, output[-3000:]
        return
    if line.endswith("train.py"):  # hours on the folk songs: stopped at its first step, resumed by `--resume`
        first_step = lambda output: re.search(r" [1-9][0-9]*/[0-9]+ \[[^]]*(step/s|s/step)", output)  # noqa: E731
        # one long epoch, as on all the folk songs (on a few files a run would end before the Ctrl-C)
        status, output = run_until(line + " --notes-per-epoch 2000000", work, env, first_step, 300,
                                   stop=signal.SIGINT)
        assert status in (0, 130) and "Traceback" not in output and "Split by file" in output, output[-3000:]
        return  # 130: stopped by Ctrl-C, politely
    if "train.py" in line:
        status, output = run_until(line + STEP_BUDGET, work, env, None, 300)
        assert status == 0 and "Traceback" not in output and "Done (step budget" in output, f"{line}\n{output[-3000:]}"
        assert "--resume" not in line or "Resuming the interrupted run" in output, output[-3000:]
        return
    status, output = run_until(line, work, env, None, 300)
    assert status == 0, f"{line}\n{output[-3000:]}"


def run_pip(line, work, env):
    """The install lines. ``pip install .`` is what tests/system/test_package.py does (a wheel built
    from the tracked files, installed outside the repository, its commands run), so here the line is
    only checked to install this folder, with an extra that ``pyproject.toml`` declares. The line that
    installs torch's CPU build from PyTorch's own index needs that index, which the tests cannot reach:
    it is checked to ask for the version ``requirements.txt`` pins, from the CPU index."""
    if "--index-url" in line:
        pinned = re.search(r"^torch==\S+", (ROOT / "requirements.txt").read_text(), re.MULTILINE).group()
        assert line.split()[2] == pinned and "download.pytorch.org/whl/cpu" in line, line
        return
    target = re.fullmatch(r"""pip install ["']?\.(?:\[(\w+)\])?["']?""", line)
    assert target, f"an install line the tests do not know: {line}"
    if target.group(1):
        extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]
        assert target.group(1) in extras, line


def test_the_pages_show_the_commands_people_run():
    assert sum(len(commands(block)) for block in blocks("sh")) >= 15


@pytest.mark.slow
@pytest.mark.parametrize("page", SHELL_PAGES, ids=[page.name for page in SHELL_PAGES])
def test_every_shell_block_runs(scratch, page):
    """A page's commands, in order (a later one may use what an earlier one made: a run it resumes);
    the pages run apart, on the test workers, each in a scratch folder of its worker."""
    work, env = scratch
    for block in blocks("sh", [page]):
        for line in commands(block):
            run_shell_line(line, work, env)
            out = re.search(r"melody generate .*--out (\S+)", line)
            if out and "--num-outputs" not in line:
                assert (work / out.group(1)).is_file(), line
    if "--output-dir outs --out ode.mid" in page.read_text():
        assert (work / "outs" / "ode-4.mid").is_file()


@pytest.mark.slow
def test_every_python_block_runs(scratch, tmp_path):
    work, env = scratch
    process, url, _ = start_app(tmp_path / "app.log", env={"MELODY_TMP": env["MELODY_TMP"]})
    try:
        for number, block in enumerate(blocks("python")):
            code = block.replace("http://127.0.0.1:7860/", url)  # the README's address is the default port's
            script = work / f"block-{number}.py"
            script.write_text(code)
            result = subprocess.run([str(ROOT / ".venv" / "bin" / "python"), script.name], cwd=work, env=env,
                                    capture_output=True, text=True, timeout=300)
            assert result.returncode == 0, f"block {number}:\n{code}\n{result.stderr[-3000:]}"
    finally:
        stop_app(process)
    assert (work / "continued.mid").is_file()


def prose(text):
    """``text`` without its fenced code blocks and inline code spans: links there are not links."""
    return re.sub(r"`[^`]+`", "", FENCE.sub("", text))


def anchor(heading):
    """GitHub's anchor of a heading: lower case, punctuation dropped, spaces as hyphens."""
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", heading)  # a link in a heading: its text
    return re.sub(r"[^\w\- ]", "", text.lower()).replace(" ", "-")


def anchors(path):
    found, seen = set(), {}
    for heading in HEADING.findall(FENCE.sub("", path.read_text())):
        slug = anchor(heading)
        found.add(slug if slug not in seen else f"{slug}-{seen[slug]}")
        seen[slug] = seen.get(slug, 0) + 1
    return found


def test_every_relative_link_leads_to_a_file():
    """Links and pictures of the README and the docs/ pages (markdown and HTML) point to files that
    exist, relative to the page; a link to a heading (``page.md#heading``, ``#heading``) to a heading there."""
    assert len(PAGES) > 1, "no docs/*.md pages"
    broken, checked = [], 0
    for page in PAGES:
        text = prose(page.read_text())
        for target in LINK.findall(text) + HTML_LINK.findall(text):
            if re.match(r"^[a-z][a-z0-9+.-]*:", target, re.IGNORECASE) or target.startswith("//"):
                continue  # http:, https:, mailto:: not a file here
            path_part, _, fragment = target.partition("#")
            linked = (page.parent / path_part).resolve() if path_part else page
            checked += 1
            if not linked.exists():
                broken.append(f"{page.relative_to(ROOT)}: {target} (no such file)")
            elif fragment and linked.suffix == ".md" and fragment not in anchors(linked):
                broken.append(f"{page.relative_to(ROOT)}: {target} (no such heading in {linked.name})")
    assert not broken, "\n".join(broken)
    assert checked >= len(PAGES)


def test_the_readme_is_short():
    lines = len(README.splitlines())
    assert lines < MAX_README_LINES, f"README.md has {lines} lines: move details to docs/"
