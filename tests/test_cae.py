"""Tests for ecglib.models.cae: Jang et al.'s convolutional autoencoder and its classifier."""

import numpy as np
import pytest
import torch

from ecglib.models import cae


@pytest.fixture(autouse=True)
def one_torch_thread():
    # The CI box has 2 shared cores; OpenMP spin-waiting between two threads makes these
    # tiny networks ~10x slower under load, so the tests run single-threaded.
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


@pytest.fixture(scope="module")
def paper_cae():
    return cae.make_autoencoder(seed=0)  # paper defaults: 2,048 samples, kernel 19, 60 latent


def test_paper_shapes_2048_in_60_latent_2048_out(paper_cae):
    batch = torch.randn(2, 1, 2048)
    paper_cae.eval()
    with torch.no_grad():
        latent = paper_cae.encoder(batch)
        recon = paper_cae.decoder(latent)
        assert latent.shape == (2, 60)
        assert recon.shape == (2, 1, 2048)
        assert torch.equal(paper_cae(batch), recon)


def test_paper_structure(paper_cae):
    encoder = paper_cae.encoder
    assert len(encoder.blocks) == 9 and len(paper_cae.decoder.blocks) == 9
    assert encoder.encoded_samples == 16 and encoder.encoded_channels == 80  # seven halvings, 5 x 16 channels
    convs = [m for m in encoder.blocks.modules() if isinstance(m, torch.nn.Conv1d) and m.kernel_size[0] > 1]
    assert (
        len(convs) == 18 and {c.kernel_size[0] for c in convs} == {19} and {c.stride[0] for c in convs} == {1}
    )
    deconvs = [m for m in paper_cae.decoder.modules() if isinstance(m, torch.nn.ConvTranspose1d)]
    assert len(deconvs) == 18 and {c.kernel_size[0] for c in deconvs} == {19}
    for block in encoder.blocks:  # two convolutions, ReLU, two batch norms
        assert sum(isinstance(m, torch.nn.BatchNorm1d) for m in block.body) == 2
        assert all(not isinstance(m, torch.nn.LeakyReLU) for m in block.body)
        assert any(isinstance(m, torch.nn.ReLU) for m in block.body)


def test_code_variant_options():
    model = cae.make_autoencoder(
        seed=0,
        n_samples=512,
        base_filters=4,
        activation="leaky_relu",
        halved_kernel_blocks=3,
        decoder_residual=False,
        dropout=0.3,
    )
    kernels = [block.body[2].kernel_size[0] for block in model.encoder.blocks]
    assert kernels == [19] * 6 + [9] * 3
    assert any(isinstance(m, torch.nn.LeakyReLU) for m in model.modules())
    assert model(torch.randn(3, 1, 512)).shape == (3, 1, 512)


def test_bad_configuration_raises():
    with pytest.raises(ValueError, match="divisible"):
        cae.ConvAutoencoder(n_samples=1000)
    with pytest.raises(ValueError, match="odd"):
        cae.ConvAutoencoder(n_samples=512, base_filters=2, kernel_size=18)
    with pytest.raises(ValueError, match="activation"):
        cae.ConvAutoencoder(n_samples=512, base_filters=2, activation="tanh")
    small = cae.ConvAutoencoder(n_samples=512, base_filters=2)
    with pytest.raises(ValueError, match="batch"):
        small(torch.randn(2, 512, 1))


def test_seeded_construction_is_reproducible_and_leaves_global_rng():
    torch.manual_seed(123)
    before = torch.rand(1)
    torch.manual_seed(123)
    a = cae.make_classifier(seed=5, n_classes=11, n_samples=512, base_filters=2)
    after = torch.rand(1)
    b = cae.make_classifier(seed=5, n_classes=11, n_samples=512, base_filters=2)
    c = cae.make_classifier(seed=6, n_classes=11, n_samples=512, base_filters=2)
    assert torch.equal(before, after)
    for (name, pa), (_, pb) in zip(a.state_dict().items(), b.state_dict().items()):
        assert torch.equal(pa, pb), name
    assert not all(torch.equal(pa, pc) for pa, pc in zip(a.state_dict().values(), c.state_dict().values()))


def test_classifier_exposes_encoder_and_head_and_takes_cae_encoder_weights():
    kwargs = dict(n_samples=512, base_filters=2, latent_dim=60)
    autoencoder = cae.make_autoencoder(seed=1, **kwargs)
    classifier = cae.make_classifier(seed=2, n_classes=11, **kwargs)
    missing = classifier.encoder.load_state_dict(autoencoder.encoder.state_dict())
    assert not missing.missing_keys and not missing.unexpected_keys
    assert classifier(torch.randn(4, 1, 512)).shape == (4, 11)
    assert classifier.head[-1].out_features == 11 and classifier.head[0].in_features == 60
    linear_head = cae.CAEClassifier(autoencoder.encoder, 3, hidden_units=())
    assert len(linear_head.head) == 1


def test_reconstruction_error_is_summed_squared_error():
    class Zero(torch.nn.Module):
        def forward(self, x):
            return torch.zeros_like(x)

    signals = np.ones((5, 2048, 1), dtype=np.float32) * 0.5
    errors = cae.reconstruction_errors(Zero(), signals, batch_size=2)
    np.testing.assert_allclose(errors, 2048 * 0.25)


def test_autoencoder_learns_to_reconstruct():
    rng = np.random.default_rng(0)
    time_s = np.arange(256) / 250
    signals = np.stack([np.sin(2 * np.pi * f * time_s) for f in rng.uniform(1, 3, 32)])[:, :, None].astype(
        np.float32
    )
    model = cae.make_autoencoder(
        seed=0,
        n_samples=256,
        base_filters=2,
        latent_dim=8,
        downsample=(False, True, True, True, False, False, False, False, False),
    )
    before = cae.reconstruction_errors(model, signals).mean()
    optimiser = torch.optim.Adam(model.parameters(), lr=3e-3)
    batch = torch.from_numpy(signals).transpose(1, 2)
    model.train()
    for _ in range(60):
        loss = ((model(batch) - batch) ** 2).sum(dim=(1, 2)).mean()
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
    after = cae.reconstruction_errors(model, signals).mean()
    assert after < 0.5 * before
