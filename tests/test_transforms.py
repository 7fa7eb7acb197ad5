"""The eight beat versions: each transformation's defining property on known beats."""

from __future__ import annotations

import numpy as np
import pytest

from ecglib import transforms
from ecglib.transforms import TRANSFORMATIONS, TransformParams

N_SAMPLES = 187


def known_beats(lengths=(120, 93, 150, 64)) -> tuple[np.ndarray, np.ndarray]:
    """Kachuee-like beats: an R peak at the start, a T wave, a baseline of 0.3; zero padding after."""
    beats = np.zeros((len(lengths), N_SAMPLES), dtype=np.float32)
    for row, length in enumerate(lengths):
        t = np.arange(length) / length
        beats[row, :length] = (
            0.3 + 0.7 * np.exp(-((t - 0.02) ** 2) / 0.001) + 0.2 * np.exp(-((t - 0.45) ** 2) / 0.01)
        )
    return beats, np.asarray(lengths, dtype=np.int64)


def test_unpadded_lengths_recovered_from_padding():
    beats, lengths = known_beats()
    np.testing.assert_array_equal(transforms.unpadded_lengths(beats), lengths)
    assert transforms.unpadded_lengths(np.zeros((1, N_SAMPLES)))[0] == 0


def test_all_zero_beat_is_rejected():
    with pytest.raises(ValueError, match="all-zero row"):
        transforms.time_reversal(np.zeros((2, N_SAMPLES)))


def test_reversal_twice_is_identity_and_keeps_padding():
    beats, lengths = known_beats()
    once = transforms.time_reversal(beats, lengths)
    assert not np.allclose(once, beats)
    np.testing.assert_array_equal(once[0, :120], beats[0, 119::-1])
    assert (once[0, 120:] == 0).all()
    np.testing.assert_array_equal(transforms.time_reversal(once, lengths), beats)


def test_negation_flips_sign_and_scaling_divides_by_ten():
    beats, _ = known_beats()
    np.testing.assert_array_equal(transforms.negation(beats), -beats)
    np.testing.assert_allclose(transforms.amplitude_scaling(beats), beats / 10, rtol=1e-6)


@pytest.mark.parametrize("snr_db", [5.0, 20.0])
def test_noise_has_the_asked_snr_and_zero_mean(snr_db):
    beats, lengths = known_beats()
    many = np.repeat(beats, 500, axis=0)
    many_lengths = np.repeat(lengths, 500)
    noisy = transforms.gaussian_noise(many, many_lengths, rng=np.random.default_rng(0), snr_db=snr_db)
    noise = (noisy - many).astype(np.float64)
    inside = np.arange(N_SAMPLES)[None, :] < many_lengths[:, None]
    assert (noise[~inside] == 0).all()  # the padding stays zero
    power = (many.astype(np.float64) ** 2 * inside).sum(axis=1) / many_lengths
    noise_power = (noise**2 * inside).sum(axis=1) / many_lengths
    measured_snr_db = 10 * np.log10(power.mean() / noise_power.mean())
    assert measured_snr_db == pytest.approx(snr_db, abs=0.1)
    # zero mean: |mean| within 5 standard errors
    values = noise[inside]
    assert abs(values.mean()) < 5 * values.std() / np.sqrt(values.size)


def test_noise_snr_relative_to_the_variance():
    beats, lengths = known_beats()
    many, many_lengths = np.repeat(beats, 500, axis=0), np.repeat(lengths, 500)
    noisy = transforms.gaussian_noise(
        many, many_lengths, rng=np.random.default_rng(2), snr_db=10.0, signal_power="variance"
    )
    inside = np.arange(N_SAMPLES)[None, :] < many_lengths[:, None]
    variance = np.array([row[:n].astype(np.float64).var() for row, n in zip(many, many_lengths)])
    noise_power = (((noisy - many).astype(np.float64) ** 2) * inside).sum(axis=1) / many_lengths
    assert 10 * np.log10(variance.mean() / noise_power.mean()) == pytest.approx(10.0, abs=0.1)
    mean_square = transforms.gaussian_noise(many, many_lengths, rng=np.random.default_rng(2), snr_db=10.0)
    assert np.abs(mean_square - many).std() > 2 * np.abs(noisy - many).std()  # the baseline counts there


def test_noise_with_fixed_std_and_argument_check():
    beats, lengths = known_beats()
    many = np.repeat(beats, 200, axis=0)
    noisy = transforms.gaussian_noise(
        many, np.repeat(lengths, 200), rng=np.random.default_rng(1), snr_db=None, noise_std=0.1
    )
    inside = np.arange(N_SAMPLES)[None, :] < np.repeat(lengths, 200)[:, None]
    assert (noisy - many)[inside].std() == pytest.approx(0.1, rel=0.02)
    with pytest.raises(ValueError, match="exactly one"):
        transforms.gaussian_noise(beats, rng=np.random.default_rng(0), snr_db=10.0, noise_std=0.1)


def test_stretch_and_squeeze_change_the_unpadded_length_by_the_factor():
    beats, lengths = known_beats()
    stretched = transforms.stretch(beats, lengths)
    squeezed = transforms.squeeze(beats, lengths)
    assert stretched.shape == squeezed.shape == (len(beats), N_SAMPLES)
    expected_stretch = np.minimum(2 * lengths, N_SAMPLES)  # cropped at 187
    np.testing.assert_array_equal(transforms.unpadded_lengths(stretched), expected_stretch)
    np.testing.assert_array_equal(transforms.unpadded_lengths(squeezed), np.ceil(lengths / 2).astype(int))
    # the 93-sample beat fits twice: its stretch passes through the original at the even samples
    # (to the polyphase filter's accuracy)
    np.testing.assert_allclose(stretched[1, :186:2], beats[1, :93], atol=2e-3)
    # the 64-sample beat squeezed keeps its baseline and peak location (sample 1 of 32)
    assert squeezed[3, :32].argmax() in (0, 1, 2)
    assert abs(squeezed[3, 16] - beats[3, 32]) < 0.05


def test_shuffle_permutes_segments():
    beats, lengths = known_beats()
    shuffled = transforms.segment_shuffle(beats, lengths, rng=np.random.default_rng(3), segment_samples=8)
    for row, length in enumerate(lengths):
        assert not np.array_equal(shuffled[row], beats[row])
        np.testing.assert_array_equal(np.sort(shuffled[row, :length]), np.sort(beats[row, :length]))
        assert (shuffled[row, length:] == 0).all()
        # every 8-sample segment of the original appears intact in the shuffled beat
        bounds = transforms.segment_bounds(int(length), 8)
        text = shuffled[row, :length].tobytes()
        for start, end in zip(bounds[:-1], bounds[1:]):
            assert beats[row, start:end].tobytes() in text


def test_shuffle_never_returns_the_original_order():
    beats, lengths = known_beats(lengths=(16,) * 200)  # two segments: half the draws are identity
    shuffled = transforms.segment_shuffle(beats, lengths, rng=np.random.default_rng(0), segment_samples=8)
    np.testing.assert_array_equal(shuffled[:, :8], beats[:, 8:16])
    with pytest.raises(ValueError, match="shorter than two segments"):
        transforms.segment_shuffle(beats[:, :], np.full(200, 15), rng=np.random.default_rng(0))


def test_seeded_determinism_and_seed_dependence():
    beats, lengths = known_beats()
    first = transforms.transform_all(beats, lengths, seed=7)
    again = transforms.transform_all(beats, lengths, seed=7)
    other = transforms.transform_all(beats, lengths, seed=8)
    assert tuple(first) == TRANSFORMATIONS
    for name in TRANSFORMATIONS:
        np.testing.assert_array_equal(first[name], again[name])
    assert not np.array_equal(first["noise"], other["noise"])
    assert not np.array_equal(first["shuffle"], other["shuffle"])


def test_self_supervised_set_targets_and_layout():
    beats, lengths = known_beats()
    ssl = transforms.self_supervised_set(beats[:, :, None], lengths, seed=0)
    n = len(beats)
    assert ssl.signals.shape == (8 * n, N_SAMPLES, 1)
    assert ssl.targets.shape == (8 * n, 8) and ssl.head_names == TRANSFORMATIONS
    np.testing.assert_array_equal(ssl.targets.sum(axis=1), 1)
    np.testing.assert_array_equal(ssl.targets.argmax(axis=1), ssl.versions)
    np.testing.assert_allclose(ssl.targets.mean(axis=0), 1 / 8)  # majority rate 7/8 per head
    np.testing.assert_array_equal(ssl.signals[:n, :, 0], beats)  # version 0 is the original
    np.testing.assert_array_equal(ssl.signals[3 * n : 4 * n, :, 0], -beats)  # version 3 negation
    np.testing.assert_array_equal(ssl.beat_index[5 * n : 6 * n], np.arange(n))
    without = transforms.self_supervised_set(beats, lengths, seed=0, original_head=False)
    assert without.targets.shape == (8 * n, 7) and without.head_names == TRANSFORMATIONS[1:]
    assert (without.targets[:n] == 0).all()
    authors = transforms.self_supervised_set(
        beats, lengths, seed=0, params=TransformParams(snr_db=None, noise_std=0.1)
    )
    assert authors.signals.shape == (8 * n, N_SAMPLES)


def test_self_supervised_set_drops_beats_too_short_to_shuffle():
    beats, lengths = known_beats(lengths=(120, 15, 0, 93))
    ssl = transforms.self_supervised_set(beats, seed=0)
    assert ssl.exclusions == {"shorter_than_min_length": 2}
    assert len(ssl) == 8 * 2
    np.testing.assert_array_equal(ssl.beat_index[:2], [0, 3])  # indices into the input
    np.testing.assert_array_equal(ssl.signals[:2], beats[[0, 3]])
