"""The real Pokémon files (../shared/data/pokemon-midi): skipped when that folder is absent."""
import pytest

import melody
from melody.data.corpus import encode_folder, split_songs
from melody.data.crops import token_sequence
from melody.evaluate.evaluation import bits_per_note
from melody.model.checkpoint import CHECKPOINT_DIR
from melody.music.encoding import CLASSIC, RHYTHM

pytestmark = pytest.mark.slow  # every Pokémon file, and the shipped models on the unseen songs

@pytest.mark.parametrize("config", [CLASSIC, RHYTHM], ids=["classic", "rhythm"])
def test_every_pokemon_file_gives_a_melody(pokemon_dir, config):
    songs, skipped = encode_folder(pokemon_dir, config=config, cache_dir=None, progress=False)
    assert skipped == [] and len(songs) == 255  # two have data bytes over 127: read leniently
    assert sum(len(s.melody.notes) for s in songs) > 40_000
    assert all(54 <= p <= 90 for s in songs for p in s.melody.pitches)
    if config.rhythm:  # real lengths, not one length for every note
        lengths = {steps for s in songs for _, steps, _ in s.melody.notes}
        assert len(lengths) >= 8


@pytest.mark.parametrize("name", ["rhythm.pt", "classic.pt"])
def test_shipped_model_figures_hold_on_the_unseen_songs(pokemon_dir, name):
    model = melody.load_model(CHECKPOINT_DIR / name)
    songs, _ = encode_folder(pokemon_dir, config=model.encoding, cache_dir=None, progress=False)
    test = split_songs(songs)["test"]
    assert sorted(s.name for s in test) == sorted(model.info["data"]["test_names"])  # never trained on
    metrics = model.info["metrics"]
    seqs = [token_sequence(s.melody, model.encoding) for s in test]
    assert bits_per_note(model, seqs) == pytest.approx(metrics["test_bits_per_note"], abs=1e-3)
    assert bits_per_note(model, seqs, memory=False) == pytest.approx(metrics["test_bits_per_note_lstm"], abs=1e-3)
    assert metrics["test_bits_per_note"] <= 0.80 * metrics["test_trigram_bits_per_note"]
    assert metrics["test_bits_per_note_lstm"] < metrics["test_trigram_bits_per_note"]
