"""MP3 encoders compared on the playground's own audio: LAME through lameenc, and LAME through
libsndfile (soundfile >= 0.13 with libsndfile >= 1.1), at the same bit rate, in one run.

    .venv/bin/python bench/mp3.py --runs 30

Prints the median and 95th percentile time to encode the audio of a 288-note result (about 73 s at
22.05 kHz mono), the file sizes, and how close each decoded file is to the input.
"""
import argparse
import io
import json
import time

import numpy as np
from common import machine, summary, timed

from melody import notes_to_midi
from melody.serve.render import MP3_KBPS, Renderer


def lameenc_mp3(samples, rate):
    import lameenc

    encoder = lameenc.Encoder()
    encoder.set_bit_rate(MP3_KBPS)
    encoder.set_in_sample_rate(rate)
    encoder.set_channels(1)
    encoder.set_quality(7)
    return encoder.encode((samples * 32767).astype(np.int16).tobytes()) + encoder.flush()


def soundfile_mp3(samples, rate, compression_level):
    import soundfile

    buffer = io.BytesIO()
    with soundfile.SoundFile(buffer, "w", rate, 1, "MPEG_LAYER_III", format="MP3",
                             compression_level=compression_level, bitrate_mode="CONSTANT") as out:
        out.write(samples)
    return buffer.getvalue()


def level_for(kbps, rate):
    """libsndfile's compression level (0..1) whose constant bit rate is closest to ``kbps``: the
    mapping depends on the sample rate, so it is measured on a second of noise."""
    noise = (np.random.default_rng(0).normal(size=rate) * 0.1).astype(np.float32)
    levels = np.linspace(0, 0.975, 40)
    rates = [len(soundfile_mp3(noise, rate, level)) * 8 / 1000 for level in levels]
    return float(levels[int(np.argmin(np.abs(np.array(rates) - kbps)))])


def decoded_error(data, samples, rate):
    """RMS difference between the decoded file and the input, after aligning them (MP3 adds a delay)."""
    import soundfile

    decoded, _ = soundfile.read(io.BytesIO(data), dtype="float32")
    best = np.inf
    for delay in range(0, 3000, 1):
        n = min(len(samples), len(decoded) - delay)
        if n < rate:
            break
        best = min(best, float(np.sqrt(np.mean((decoded[delay : delay + n] - samples[:n]) ** 2))))
    return best / float(np.sqrt(np.mean(samples**2)))


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=30)
    args = parser.parse_args()
    renderer = Renderer(voices=1)
    pitches = [60 + (i * 7) % 24 for i in range(288)]
    samples = renderer.render_audio(notes_to_midi(pitches, tempo=120, note_beats=0.5)).astype(np.float32)
    rate = renderer.sample_rate_hz
    level = level_for(MP3_KBPS, rate)
    encoders = {"lameenc (LAME, quality 7)": lambda: lameenc_mp3(samples, rate),
                f"soundfile (libsndfile {__import__('soundfile').__libsndfile_version__}, LAME)":
                    lambda: soundfile_mp3(samples, rate, level)}
    rows = {}
    for name, encode in encoders.items():
        data = encode()
        rows[name] = dict(summary(timed(encode, args.runs)), kbytes=round(len(data) / 1024, 1),
                          kbit_per_s=round(len(data) * 8 / 1000 / (len(samples) / rate), 1),
                          relative_rms_error=round(decoded_error(data, samples, rate), 4))
    print(f"# MP3 encoders ({len(samples) / rate:.1f} s of audio, {rate} Hz mono; {machine()})")
    print("| encoder | median ms | p95 ms | size kB | kbit/s | decoded error (RMS, relative) |")
    print("|---|---|---|---|---|---|")
    for name, row in rows.items():
        print(f"| {name} | {row['median_ms']} | {row['p95_ms']} | {row['kbytes']} | {row['kbit_per_s']} | "
              f"{row['relative_rms_error']} |")
    print(json.dumps(rows))


if __name__ == "__main__":
    started = time.perf_counter()
    main()
    print(f"({time.perf_counter() - started:.0f} s)")
