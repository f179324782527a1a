"""Generation in supervised worker processes: a crash or a runaway request costs that request only."""
import logging
import os
import signal
import threading
import time

import pytest

from melody.serve.playground import Playground
from melody.serve.seed_sources import seed_from_notes
from melody.serve.workers import CRASHED, GenerationError
from melody.settings import Settings


@pytest.fixture(scope="module")
def isolated(tmp_path_factory):
    playground = Playground(output_dir=tmp_path_factory.mktemp("isolated"), voices=1, isolated=True)
    playground.warm_up()
    yield playground
    playground.close()


def seed(playground):
    return seed_from_notes("C4/4 E4/8 G4/8 A4/4 G4/4 E4/4 D4/8 C4/8 D4/2", config=playground.encoding())


def test_a_worker_makes_the_same_result_as_the_server_would(isolated, tmp_path):
    settings = Settings(length=48, rng_seed=11, variations=2)
    there = isolated.generate(seed(isolated), settings)
    here = Playground(output_dir=tmp_path, voices=1).generate(seed(isolated), settings)
    assert [v.continuation.tokens for v in there.variations] == [v.continuation.tokens for v in here.variations]
    for variation in there.variations:
        assert variation.audio_path.stat().st_size > 1000 and variation.roll_path.is_relative_to(isolated.storage.root)
        assert variation.midi_path.exists() and variation.wav_path.exists()
    assert isolated.seed_audio(seed(isolated)).stat().st_size > 1000


def test_a_crash_in_a_worker_costs_that_request_and_the_next_one_is_served(isolated, caplog):
    pid = isolated.workers.pids()[0]
    long = Settings(length=512, rng_seed=3, variations=4, pins="511:C5")  # seconds of work: time to crash it

    def crash_soon():
        time.sleep(1.5)
        os.kill(pid, signal.SIGSEGV)  # what a fault in native code does to the process

    threading.Thread(target=crash_soon).start()
    with caplog.at_level(logging.WARNING, logger="melody"):
        with pytest.raises(GenerationError) as info:
            isolated.generate(seed(isolated), long)
    assert str(info.value) == CRASHED
    assert any("killed by SIGSEGV" in r.getMessage() for r in caplog.records)
    assert isolated.workers.pids()[0] != pid
    again = isolated.generate(seed(isolated), Settings(length=16, rng_seed=1))
    assert len(again.variations[0].continuation.notes) == 16


def test_a_request_past_the_deadline_is_stopped_and_the_worker_started_again(isolated):
    isolated.workers.deadline_s = 0.5
    try:
        pid = isolated.workers.pids()[0]
        with pytest.raises(GenerationError, match="took longer than 0.5 s"):
            isolated.generate(seed(isolated), Settings(length=512, rng_seed=3, variations=4, pins="511:C5"))
        assert isolated.workers.pids()[0] != pid
    finally:
        isolated.workers.deadline_s = 120.0
    assert isolated.generate(seed(isolated), Settings(length=8, rng_seed=2)).variations[0].continuation.notes


def test_a_users_mistake_in_a_worker_comes_back_as_itself(isolated):
    with pytest.raises(Exception, match="is not in C major"):
        isolated.generate(seed(isolated), Settings(length=8, pins="2:C#5", scale="C major"))
