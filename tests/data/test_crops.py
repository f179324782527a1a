import torch

from melody import CropSampler, cyclic_crops


def test_crop_wraps_past_song_end():
    song = list(range(10))
    crops = cyclic_crops([song], crop_length=15, batch_size=50, generator=torch.Generator().manual_seed(0))
    assert crops.shape == (50, 16)
    for crop in crops.tolist():
        assert all((b - a) % 10 == 1 for a, b in zip(crop, crop[1:]))  # consecutive, 9 -> 0 wraps
    assert any(crop.index(9) < 15 and crop[crop.index(9) + 1] == 0 for crop in crops.tolist())


def test_crops_never_mix_songs():
    songs = [[0, 1, 2], [10, 11, 12, 13, 14]]
    crops = cyclic_crops(songs, crop_length=7, batch_size=200, generator=torch.Generator().manual_seed(1))
    for crop in crops.tolist():
        assert all(t < 10 for t in crop) or all(t >= 10 for t in crop)


def test_every_note_can_start_a_crop_in_proportion_to_song_length():
    sampler = CropSampler([[0, 1], [10, 11, 12, 13, 14, 15]], crop_length=3, generator=torch.Generator().manual_seed(2))
    starts = sampler.sample(8000)[:, 0]
    assert set(starts.tolist()) == {0, 1, 10, 11, 12, 13, 14, 15}
    share_short = (starts < 10).float().mean().item()
    assert abs(share_short - 2 / 8) < 0.03


def test_same_generator_seed_gives_same_crops():
    songs = [list(range(20)), list(range(30, 37))]
    a = cyclic_crops(songs, 5, 4, torch.Generator().manual_seed(9))
    b = cyclic_crops(songs, 5, 4, torch.Generator().manual_seed(9))
    assert torch.equal(a, b)
