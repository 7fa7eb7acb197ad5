"""DeepFake study inputs: the GAN's units (output x 6000 = microvolts -> millivolts) and 8 leads from 12."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from ecglib import preprocess
from ecglib.data import deepfake_gan


def test_gan_output_to_millivolts():
    # tanh output 1 -> 6000 µV = 6 mV; -0.5 -> -3000 µV = -3 mV; arrays and tensors alike
    np.testing.assert_allclose(deepfake_gan.output_to_mv(np.array([1.0, -0.5, 0.0])), [6.0, -3.0, 0.0])
    tensor = deepfake_gan.output_to_mv(torch.tensor([[0.25, -1.0]]))
    assert isinstance(tensor, torch.Tensor) and torch.allclose(tensor, torch.tensor([[1.5, -6.0]]))
    # deepfake-ecg writes round(output * 6000) as integer microvolts: our mV x 1000 is that number
    output = np.array([0.1234, -0.0567])
    assert np.allclose(deepfake_gan.output_to_mv(output) * 1000.0, output * 6000.0)


def test_generate_applies_the_conversion_once():
    pytest.importorskip("deepfakeecg", reason="deepfake-ecg is not installed")
    model = deepfake_gan.load_generator("cpu")
    signals_mv = deepfake_gan.generate(1, seed=11, generator=model)
    with torch.inference_mode():
        raw = model(deepfake_gan.example_noise(11, range(1)))  # (1, 8, 5000), tanh
    assert float(raw.abs().max()) <= 1.0
    expected_mv = deepfake_gan.output_to_mv(raw).transpose(1, 2).numpy()
    np.testing.assert_allclose(signals_mv, expected_mv, atol=1e-5)
    # not left in generator units (|x| <= 1) nor in microvolts (R waves of hundreds)
    assert 0.3 < np.abs(signals_mv).max() <= 6.0


def test_eight_leads_from_a_twelve_lead_record_in_any_order():
    """I, II, V1-V6 picked by name with the library's lead selection, whatever the file's order."""
    rng = np.random.default_rng(0)
    twelve = rng.normal(size=(500, 12)).astype(np.float32)
    eight = preprocess.leads_12_to_8(twelve)
    assert eight.shape == (500, 8)
    for position, name in enumerate(preprocess.LEADS_8):
        np.testing.assert_array_equal(eight[:, position], twelve[:, preprocess.LEADS_12.index(name)])
    # a record whose leads come in another order (V leads first): same 8 columns by name
    shuffled_names = preprocess.LEADS_12[6:] + preprocess.LEADS_12[:6]
    shuffled = np.concatenate([twelve[:, 6:], twelve[:, :6]], axis=1)
    np.testing.assert_array_equal(
        preprocess.select_leads(shuffled, shuffled_names, preprocess.LEADS_8), eight
    )
    # III, aVR, aVL, aVF are the ones dropped; they follow again from I and II
    consistent = preprocess.leads_8_to_12(eight)
    np.testing.assert_array_equal(preprocess.leads_12_to_8(consistent), eight)
    with pytest.raises(KeyError, match="V6"):
        preprocess.select_leads(twelve[:, :11], preprocess.LEADS_12[:11], preprocess.LEADS_8)


@pytest.mark.real_data
def test_eight_leads_of_a_real_ludb_record():
    from ecglib.data import DataMissingError, ludb

    try:
        record = ludb.load_record("1")
    except DataMissingError as error:
        pytest.skip(f"LUDB not found ({error}); set $ECGLIB_DATA")
    eight = preprocess.select_leads(record.signal_mv, record.lead_names, preprocess.LEADS_8)
    assert eight.shape == (5000, 8)
    np.testing.assert_array_equal(eight[:, 1], record.signal_mv[:, 1])  # II
    np.testing.assert_array_equal(eight[:, 2], record.signal_mv[:, 6])  # V1
    np.testing.assert_array_equal(eight[:, 7], record.signal_mv[:, 11])  # V6
