"""The real Pokémon files (../shared/data/pokemon-midi): skipped when that folder is absent."""
import pytest

import melody
from melody.checkpoint import CHECKPOINT_DIR
from melody.corpus import encode_folder, split_songs
from melody.evaluation import bits_per_note

SHIPPED = CHECKPOINT_DIR / "pokemon.pt"


def test_every_pokemon_file_gives_a_melody(pokemon_dir):
    songs, skipped = encode_folder(pokemon_dir, cache_dir=None, progress=False)
    assert skipped == [] and len(songs) == 255  # two have data bytes over 127: read leniently
    assert sum(len(s.melody) for s in songs) > 100_000
    assert all(54 <= p <= 90 for s in songs for p in s.melody.pitches)


def test_shipped_model_figures_hold_on_the_unseen_songs(pokemon_dir):
    model = melody.load_model(SHIPPED)
    songs, _ = encode_folder(pokemon_dir, config=model.encoding, cache_dir=None, progress=False)
    test = split_songs(songs)["test"]
    assert sorted(s.name for s in test) == sorted(model.info["data"]["test_names"])  # never trained on
    metrics = model.info["metrics"]
    tokens = [s.melody.tokens for s in test]
    assert bits_per_note(model, tokens) == pytest.approx(metrics["test_bits_per_note"], abs=1e-3)
    assert bits_per_note(model, tokens, memory=False) == pytest.approx(metrics["test_bits_per_note_lstm"], abs=1e-3)
    assert metrics["test_bits_per_note"] <= 0.80 * metrics["trigram_test_bits_per_note"]
