"""The /generate endpoint through a real HTTP client (gradio_client) against the running app."""
import re
import time

import numpy as np
import pytest
import soundfile
from gradio_client import Client, handle_file
from gradio_client.exceptions import AppError
from midi_factory import POKEMON_DIR, pitches_in, timed_notes_in, write_notes

import melody

POKEMON_SONG = POKEMON_DIR / "Pokemon - Pallet Town.mid"


@pytest.fixture(scope="module")
def client(app_url):
    return Client(app_url, verbose=False)


@pytest.fixture
def song(tmp_path):
    """A Pokémon file when ../shared is there, else a two-track file built here."""
    if POKEMON_SONG.exists():
        return POKEMON_SONG
    lead = [(62 + (i * 5) % 12, i * 0.5, 0.5) for i in range(80)]
    bass = [(38 + i % 5, i, 1.0) for i in range(40)]
    return write_notes(tmp_path / "song.mid", lead, extra_tracks=[(bass, 33, False)])


def test_generate_from_an_uploaded_midi(client, song):
    audio, image, midi_path, summary = client.predict(midi_file=handle_file(str(song)), seed_notes="C4 D4 E4",
                                                      temperature=1.0, length=48, rng_seed=1, tempo_bpm=120,
                                                      api_name="/generate")
    expected = melody.encode_midi(song, melody.load_model().encoding)  # as the default checkpoint reads it
    seed = expected.original_pitches()[:64]  # the file wins over the notes
    played = timed_notes_in(midi_path)
    assert [p for *_, p in played[:64]] == seed and len(played) == 64 + 48
    step = 60 / 120 / 4
    first = expected.notes[0][0] - expected.bar_position(expected.notes[0][0])  # audio starts at the first bar
    assert np.allclose([s for s, _, _ in played[:64]], [(o - first) * step for o, _, _ in expected.notes[:64]])
    samples, rate = soundfile.read(audio)
    seconds = len(samples) / rate
    assert abs(seconds - (played[-1][1] + 1.0)) < 0.15  # the last note's end at 120 BPM, the release, MP3 padding
    assert np.sqrt(np.mean(samples**2)) > 1e-3
    with open(image, "rb") as handle:
        assert handle.read(8) == b"\x89PNG\r\n\x1a\n"
    assert expected.key in summary and "random seed 1" in summary


def test_generate_from_notes_is_reproducible(client):
    first = client.predict(seed_notes="C4 D4 E4", length=16, rng_seed=5, api_name="/generate")
    second = client.predict(seed_notes="60 62 64", length=16, rng_seed=5, api_name="/generate")
    notes = [pitches_in(r[2]) for r in (first, second)]
    assert notes[0] == notes[1] and notes[0][:3] == [60, 62, 64] and len(notes[0]) == 19


def test_bad_input_is_a_readable_error(client, tmp_path):
    with pytest.raises(AppError, match="not a note"):
        client.predict(seed_notes="C4 Q9", api_name="/generate")
    bogus = tmp_path / "fake.mid"
    bogus.write_bytes(b"this is not midi")
    with pytest.raises(AppError, match="not a MIDI file"):
        client.predict(midi_file=handle_file(str(bogus)), api_name="/generate")
    assert client.predict(seed_notes="C4", length=4, rng_seed=1, api_name="/generate")[3]  # still serving


@pytest.mark.slow
def test_every_hostile_upload_gets_a_message_and_the_server_keeps_serving(client, tmp_path):
    from hostile_midi import hostile_files

    for name, (data, expected) in hostile_files().items():
        path = tmp_path / name
        path.write_bytes(data)
        if expected == "error":
            with pytest.raises(AppError) as info:
                client.predict(midi_file=handle_file(str(path)), length=8, rng_seed=1, api_name="/generate")
            assert name in str(info.value), (name, str(info.value))
        else:
            audio, _, midi_path, _ = client.predict(midi_file=handle_file(str(path)), length=8, rng_seed=1,
                                                    api_name="/generate")
            assert len(pitches_in(midi_path)) >= 9, name
    assert client.predict(seed_notes="C4 E4", length=4, rng_seed=2, api_name="/generate")[3]


def test_only_midi_files_are_accepted(client, tmp_path, app_url):
    import httpx

    other = tmp_path / "notes.txt"
    other.write_text("C4 D4 E4")
    with pytest.raises(httpx.HTTPStatusError, match="415"):  # refused at the upload, before it is stored
        client.predict(midi_file=handle_file(str(other)), api_name="/generate")
    refused = httpx.post(app_url + "gradio_api/upload", files={"files": ("notes.txt", b"C4", "text/plain")}, timeout=30)
    assert "Invalid file type: only .mid and .midi" in refused.json()["error"]


def test_the_server_refuses_uploads_over_10_mb(app_url):
    import httpx

    big = b"MThd" + bytes(11 * 1024 * 1024)
    response = httpx.post(app_url + "gradio_api/upload", files={"files": ("big.mid", big, "audio/midi")}, timeout=60)
    assert response.status_code == 413
    assert httpx.get(app_url, timeout=10).status_code == 200


@pytest.mark.parametrize("kwargs, words", [
    (dict(temperature="abc"), "Temperature must be a number from 0 to 2"),
    (dict(rng_seed=-1), "Random seed must be a whole number"),
    (dict(rng_seed=1e300), "Random seed must be a whole number"),
    (dict(length="9" * 5000), "Length .* must be a whole number"),
    (dict(top_p="0.5.5"), "top-p must be a number"),
    (dict(original_key="maybe"), "must be true or false"),
    (dict(seed_notes="٦٠ ٦٢"), "is not a note"),
])
def test_settings_from_the_api_are_checked_and_named(client, kwargs, words):
    with pytest.raises(AppError, match=words):
        client.predict(**{"seed_notes": "C4 D4", "length": 4, **kwargs}, api_name="/generate")


def test_nan_sent_as_raw_json_is_named(app_url):
    import json

    import httpx

    url = app_url + "gradio_api/call/generate"
    data = [None, "C4 D4", float("nan"), 4, 1, None, None, None, None, 0, True, 0, 64, 0.5, "", None, False, None, 1.0]
    event = httpx.post(url, content=json.dumps({"data": data}), headers={"content-type": "application/json"},
                       timeout=30).json()["event_id"]
    assert "Temperature must be a number from 0 to 2, got nan" in httpx.get(f"{url}/{event}", timeout=60).text


def rest_generate(app_url, data):
    """``/generate`` over Gradio's REST API with ``data`` as the raw list of values: the answer's text."""
    import json

    import httpx

    url = app_url + "gradio_api/call/generate"
    event = httpx.post(url, content=json.dumps({"data": data}), headers={"content-type": "application/json"},
                       timeout=30).json()["event_id"]
    return httpx.get(f"{url}/{event}", timeout=60).text


@pytest.mark.parametrize("data, words", [
    (["C4 D4"], r"/generate takes 19 values: midi_file, seed_notes, temperature.*this request sent 1"),
    ([123, "C4 D4"] + [None] * 17, "Input 0 \\(midi_file\\) of /generate is not a value it takes"),
    ([{"path": "/etc/passwd", "meta": {"_type": "gradio.FileData"}}, None] + [None] * 17,
     "never uploaded to this server"),
    ([None, ["C4"], None] + [None] * 16, "seed_notes must be text"),
])
def test_a_malformed_request_gets_a_message_and_one_log_line(app_server, data, words):
    url, log_path = app_server
    before = len(log_path.read_text().splitlines())
    answer = rest_generate(url, data)
    assert "event: error" in answer and re.search(words, answer), answer
    assert '"null"' not in answer and "/etc/passwd" not in answer and "Traceback" not in answer
    time.sleep(0.3)
    new = log_path.read_text().splitlines()[before:]
    said = [line for line in new if "bad request" in line or "user error" in line]
    assert "Traceback" not in "\n".join(new) and len(said) == 1 and len(said[0]) < 400, new


def test_file_part_settings_are_checked(client, tmp_path):
    with pytest.raises(AppError, match="Number of notes must be a whole number from 1 to 1,024, got 0"):
        client.predict(seed_notes="C4 D4 E4", seed_count=0, api_name="/generate")  # before: ignored without a file
    path = write_notes(tmp_path / "s.mid", [(60 + i % 5, i * 0.5, 0.5) for i in range(10)])
    with pytest.raises(AppError, match="Number of notes must be a whole number from 1 to 1,024, got 0"):
        client.predict(midi_file=handle_file(str(path)), seed_count=0, api_name="/generate")
    with pytest.raises(AppError, match="Start at note must be a whole number from 0"):
        client.predict(midi_file=handle_file(str(path)), seed_start=-1, api_name="/generate")


def test_top_k_of_one_and_original_key_false_work(client):
    _, _, midi_path, summary = client.predict(seed_notes="D4 E4 F#4 G4", length=8, top_k=1, original_key="false",
                                              rng_seed=2, api_name="/generate")
    assert "top-k 1" in summary and "the model's key" in summary
    assert pitches_in(midi_path)[:4] == [60, 62, 64, 65]  # kept in C, as asked by the string "false"


def test_generate_steered_by_pins_scale_loop_and_copy_cap(client):
    seed = "D4/4 E4/8 F#4/8 A4/4 F#4/4 D4/2"  # D major: pins and scale are in the seed's own key
    _, _, midi_path, summary = client.predict(seed_notes=seed, length=16, rng_seed=2, pins="7:A4 15:D5",
                                              scale="D major", loop=True, max_copy=12, api_name="/generate")
    pitches = pitches_in(midi_path)
    assert len(pitches) == 2 * 22 and pitches[:22] == pitches[22:]  # the loop, played twice
    assert pitches[6 + 7] == 69 and pitches[6 + 15] == 74
    assert {p % 12 for p in pitches} <= {1, 2, 4, 6, 7, 9, 11}
    assert "pins 7:A4 15:D5" in summary and "scale D major" in summary and "loop" in summary
    with pytest.raises(AppError, match="not in D major"):
        client.predict(seed_notes=seed, pins="3:C4", scale="D major", api_name="/generate")
    with pytest.raises(AppError, match="is not a pin"):
        client.predict(seed_notes=seed, pins="three:C4", api_name="/generate")
    with pytest.raises(AppError, match="Copy cap"):
        client.predict(seed_notes=seed, max_copy=3, api_name="/generate")


def test_regenerate_redoes_the_bars_asked_for_and_keeps_the_rest(client):
    """/regenerate: the whole tune typed, in D major; bars 1 and 2 of 4 come back new, in the tune's own
    key, with the same audio and MIDI as the notes; the same random seed gives the same tune."""
    tune = "D4/8 E4/8 F#4/8 G4/8 A4/4 A4/4 B4/8 B4/8 B4/8 B4/8 A4/2 G4/8 G4/8 G4/8 G4/8 F#4/4 F#4/4 E4/8 E4/8 E4/8 E4/8 D4/2"
    notes, audio, midi = client.predict(notes=tune, start_bar=1, end_bar=3, rng_seed=5, api_name="/regenerate")
    assert client.predict(notes=tune, start_bar=1, end_bar=3, rng_seed=5, api_name="/regenerate")[0] == notes
    old = melody.melody_from_text(tune)
    new = melody.melody_from_text(notes)
    before = lambda m: [n for n in m.original_notes() if n[0] < 16]  # noqa: E731  (in the tune's own key)
    after = lambda m: [n for n in m.original_notes() if n[0] >= 48]  # noqa: E731
    assert before(new) == before(old) and after(new) == after(old) and new.end_step == old.end_step
    assert [n for n in new.original_notes() if 16 <= n[0] < 48] != [n for n in old.original_notes() if 16 <= n[0] < 48]
    written = timed_notes_in(midi)
    assert [p for *_, p in written] == list(new.original_pitches())  # the tune as typed: D major, not C
    assert written[0][2] == 62
    data, rate = soundfile.read(audio)
    assert abs(len(data) / rate - (new.end_step / 4 * 0.5 + 1.0)) < 0.3  # 120 BPM, and the release
    with pytest.raises(AppError, match="not a range of this tune's 4 bars"):
        client.predict(notes=tune, start_bar=2, end_bar=6, api_name="/regenerate")
    with pytest.raises(AppError, match="notes must be the whole tune"):
        client.predict(notes="", start_bar=0, end_bar=1, api_name="/regenerate")
