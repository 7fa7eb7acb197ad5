"""Tests for the Jang et al. 2021 study: the GoogLeNet 2-D arm, the study glue and the smoke run."""

import numpy as np
import pytest
import torch

from ecglib.data import DataFormatError
from ecglib.models import googlenet2d


@pytest.fixture(autouse=True)
def one_torch_thread():
    # 2 shared CI cores: single-threaded torch avoids OpenMP spin-wait slowdowns.
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


# --- GoogLeNet feature extractor: ImageNet weights present / missing -------------------------


def test_googlenet_missing_weights_raise_by_default(tmp_path):
    with pytest.raises(googlenet2d.ImageNetWeightsMissing, match="cannot be downloaded"):
        googlenet2d.load_feature_extractor(hub_dir=tmp_path)
    with pytest.raises(googlenet2d.ImageNetWeightsMissing, match="nope.pth"):
        googlenet2d.load_feature_extractor(weights_path=tmp_path / "nope.pth")


def test_googlenet_missing_weights_random_is_labelled_never_imagenet(tmp_path):
    extractor, info = googlenet2d.load_feature_extractor(hub_dir=tmp_path, when_missing="random", seed=0)
    assert info.weights == "random" and not info.is_imagenet
    assert info.label == googlenet2d.RANDOM_WEIGHTS_LABEL
    assert "unavailable" in info.label and "not the paper's arm" in info.label
    assert info.path is None and info.sha256 is None
    features = googlenet2d.extract_features(extractor, np.random.default_rng(0).random((2, 3, 64, 64)))
    assert features.shape == (2, googlenet2d.N_FEATURES) and np.all(np.isfinite(features))
    assert not any(p.requires_grad for p in extractor.parameters()) and not extractor.training


def test_googlenet_loads_weights_from_hub_cache(tmp_path):
    # A state dict in torchvision's ImageNet layout (aux heads included), written where the hub cache keeps it.
    from torchvision.models import GoogLeNet

    torch.manual_seed(3)
    reference = GoogLeNet(num_classes=1000, aux_logits=True, transform_input=True, init_weights=True)
    checkpoints = tmp_path / "checkpoints"
    checkpoints.mkdir()
    torch.save(reference.state_dict(), checkpoints / googlenet2d.IMAGENET_WEIGHTS_FILE)
    extractor, info = googlenet2d.load_feature_extractor(hub_dir=tmp_path)
    assert info.is_imagenet and info.label == googlenet2d.IMAGENET_LABEL and len(info.sha256) == 64
    assert torch.equal(extractor.conv1.conv.weight, reference.conv1.conv.weight)
    # same weights through an explicit path
    _, by_path = googlenet2d.load_feature_extractor(
        weights_path=checkpoints / googlenet2d.IMAGENET_WEIGHTS_FILE
    )
    assert by_path.is_imagenet


def test_googlenet_corrupt_weights_name_the_file(tmp_path):
    bad = tmp_path / "checkpoints" / googlenet2d.IMAGENET_WEIGHTS_FILE
    bad.parent.mkdir()
    bad.write_bytes(b"not a checkpoint")
    with pytest.raises(DataFormatError, match=googlenet2d.IMAGENET_WEIGHTS_FILE):
        googlenet2d.load_feature_extractor(hub_dir=tmp_path, when_missing="random")


def test_spectrogram_features_and_feature_classifier_shapes(tmp_path):
    extractor, _ = googlenet2d.load_feature_extractor(hub_dir=tmp_path, when_missing="random")
    windows = np.random.default_rng(0).normal(size=(3, 512))
    features = googlenet2d.spectrogram_features(
        windows, fs_hz=250.0, extractor=extractor, image_size=64, batch_size=2
    )
    assert features.shape == (3, 1024) and features.dtype == np.float32
    classifier = googlenet2d.FeatureClassifier(11)
    assert classifier(torch.from_numpy(features)[:, None, :]).shape == (3, 11)


# --- study glue -----------------------------------------------------------------------------

from ecglib import params  # noqa: E402
from ecglib.data import DataMissingError  # noqa: E402
from ecglib.models import cae  # noqa: E402
from ecglib.studies import jang2021 as study  # noqa: E402

STUDY = "jang2021"
PROFILES = ("smoke", "local", "paper")


def test_profiles_share_the_schema_keys_and_validate():
    schema = params.load_schema(STUDY)
    for profile in PROFILES:
        cfg = params.load(STUDY, profile)
        assert set(cfg.as_dict()) == set(schema), profile
        assert cfg.profile == profile
    paper = params.load(STUDY, "paper")
    # the paper's protocol where it is public
    scale = study.time_scale(paper.as_dict())
    assert (
        paper.fs_hz,
        paper.window_samples,
        scale["kernel_samples"],
        scale["halvings"],
        paper.cae_latent_dim,
    ) == (
        250.0,
        2048,
        19,
        7,
        60,
    )
    assert (
        study.cae_kwargs(paper.as_dict())["downsample"] == cae.DEFAULT_DOWNSAMPLE
    )  # the authors' blocks 2-8
    assert (paper.epochs, paper.lr, paper.optimizer, paper.n_trials) == (150, 0.005, "adam", 10)
    assert paper.train_fractions == [1.0, 0.5, 0.25] and paper.test_fraction == 0.2
    assert paper.data_source == "chapman"
    assert params.load(STUDY, "smoke").data_source == "sim-chapman"


def test_reported_means_match_their_trials():
    reported = params.reported(STUDY)
    assert reported["reconstruction_error"]["total"] == pytest.approx(626.583)
    # 626.583 / 2048 = 0.30595: the paper truncates to 0.305
    assert reported["reconstruction_error"]["total"] / 2048 == pytest.approx(
        reported["reconstruction_error"]["per_point"], abs=1e-3
    )
    # Table 2: sample SDs except 100% image_transfer; Table 3: population SDs
    assert reported["sd_ddof"] == {"table2_best_f1": 1, "table3_lci": 0}
    exceptions = {("table2_best_f1", 100, "image_transfer")}
    n_checked = 0
    for table in ("table2_best_f1", "table3_lci"):
        ddof = reported["sd_ddof"][table]
        for size, arms in reported[table].items():
            assert size in (100, 50, 25)
            for arm, entry in arms.items():
                if arm == "p_value":
                    continue
                assert len(entry["trials"]) == 10
                assert np.mean(entry["trials"]) == pytest.approx(entry["mean"], abs=1e-3), (table, size, arm)
                stated = 1 - ddof if (table, size, arm) in exceptions else ddof
                assert round(np.std(entry["trials"], ddof=stated), 3) == entry["sd"], (table, size, arm)
                if table == "table3_lci":  # every Table 3 SD tells the conventions apart
                    assert round(np.std(entry["trials"], ddof=1), 3) != entry["sd"], (size, arm)
                n_checked += 1
    assert n_checked == 15


def test_trial_indices_bootstrap_and_subsample():
    labels = np.repeat(np.arange(4), 25)
    boot = study.trial_indices(100, 0.25, 3, resampling="bootstrap", labels=labels, seed=1)
    assert [len(b) for b in boot] == [25, 25, 25]
    assert not np.array_equal(boot[0], boot[1])
    assert (
        study.trial_indices(100, 0.25, 3, resampling="bootstrap", labels=labels, seed=1)[2].tolist()
        == boot[2].tolist()
    )
    full = study.trial_indices(100, 1.0, 2, resampling="bootstrap", labels=labels, seed=1)
    assert all(len(b) == 100 for b in full) and len(np.unique(full[0])) < 100  # drawn with replacement
    sub = study.trial_indices(100, 0.5, 2, resampling="subsample", labels=labels, seed=1)
    assert all(len(s) == 50 and len(np.unique(s)) == 50 for s in sub)
    assert np.bincount(labels[sub[0]]).tolist() == [12, 13, 12, 13] or set(np.bincount(labels[sub[0]])) <= {
        12,
        13,
    }


TINY_CAE = dict(
    n_leads=1,
    n_samples=256,
    latent_dim=8,
    kernel_size=5,
    base_filters=2,
    activation="relu",
    dropout=0.0,
    halved_kernel_blocks=0,
    decoder_residual=True,
)


def test_transfer_and_random_arms_differ_only_in_the_encoder():
    autoencoder = cae.make_autoencoder(seed=11, **TINY_CAE)
    transfer, n_loaded = study.build_model(
        "transfer",
        n_classes=3,
        seed=5,
        cae_options=TINY_CAE,
        head_hidden_units=[4],
        encoder_state=autoencoder.encoder.state_dict(),
    )
    random, zero = study.build_model(
        "random", n_classes=3, seed=5, cae_options=TINY_CAE, head_hidden_units=[4]
    )
    assert n_loaded == len(autoencoder.encoder.state_dict()) and zero == 0
    for key, value in transfer.encoder.state_dict().items():
        assert torch.equal(value, autoencoder.encoder.state_dict()[key])
    for key, value in transfer.head.state_dict().items():
        assert torch.equal(value, random.head.state_dict()[key])
    assert not torch.equal(transfer.encoder.stem[0].weight, random.encoder.stem[0].weight)
    with pytest.raises(ValueError, match="encoder"):
        study.build_model("transfer", n_classes=3, seed=5, cae_options=TINY_CAE, head_hidden_units=[4])


def test_kernel_and_halvings_scale_with_the_sampling_rate():
    base = params.load(STUDY, "paper").as_dict()
    expected = {125.0: (9, 6), 250.0: (19, 7), 500.0: (39, 8)}
    for fs_hz, (kernel, halvings) in expected.items():
        window = int(2048 * fs_hz / 250.0)  # 8.192 s at every rate
        cfg = {**base, "fs_hz": fs_hz, "window_samples": window}
        scale = study.time_scale(cfg)
        assert (scale["kernel_samples"], scale["halvings"]) == (kernel, halvings), fs_hz
        assert scale["bottleneck_cells"] == 16 and scale["bottleneck_ms"] == pytest.approx(512.0)
        assert scale["kernel_ms"] == pytest.approx(76.0, abs=4.0) and scale["kernel_samples"] % 2 == 1
        assert sum(scale["downsample"]) == halvings
        encoder = cae.make_autoencoder(seed=0, **{**study.cae_kwargs(cfg), "base_filters": 1}).encoder
        assert encoder.encoded_samples == 16, fs_hz  # the same 16 cells of 512 ms at every rate
    # fewer halvings drop the earliest of the authors' blocks 2-8; a longer cell keeps the time scale
    assert study.downsample_plan(6) == (False, False, True, True, True, True, True, True, False)
    assert study.downsample_plan(7) == cae.DEFAULT_DOWNSAMPLE
    assert study.n_halvings(256.0, 125.0) == 5 and study.kernel_samples(76.0, 125.0) == 9
    local = params.load(STUDY, "local").as_dict()
    assert study.time_scale(local)["kernel_samples"] == 9
    with pytest.raises(ValueError, match="window_samples=1000 must divide by 2\\*\\*6"):
        study.cae_kwargs({**base, "fs_hz": 125.0, "window_samples": 1000})
    with pytest.raises(ValueError, match="cae_bottleneck_ms"):
        study.n_halvings(0.5, 125.0)


def _tiny_problem(n=48, n_samples=256, seed=0):
    rng = np.random.default_rng(seed)
    targets = np.arange(n) % 3
    time_s = np.arange(n_samples) / 64.0
    signals = np.stack([np.sin(2 * np.pi * (1 + t) * time_s) for t in targets]) + 0.3 * rng.normal(
        size=(n, n_samples)
    )
    return signals[:, :, None].astype(np.float32), targets


@pytest.mark.parametrize("model_selection", ["validation", "best_test_epoch_as_in_paper"])
def test_data_starvation_arms_share_data_and_settings(model_selection):
    signals, targets = _tiny_problem()
    features = np.random.default_rng(1).normal(size=(len(targets), 16, 1)).astype(np.float32)
    autoencoder = cae.make_autoencoder(seed=3, **TINY_CAE)
    index = np.arange(len(targets))
    result = study.run_data_starvation(
        {"transfer": signals, "random": signals, "image_transfer": features},
        targets,
        train_index=index[:30],
        val_index=index[30:39] if model_selection == "validation" else index[:0],
        test_index=index[39:],
        n_classes=3,
        train_fractions=[1.0, 0.5],
        n_trials=2,
        trial_resampling="bootstrap",
        epochs=3,
        lr=0.005,
        batch_size=8,
        optimizer="adam",
        model_selection=model_selection,
        head_hidden_units=[4],
        cae_options=TINY_CAE,
        encoder_state=autoencoder.encoder.state_dict(),
        seed=0,
        device="cpu",
        progress=False,
    )
    assert len(result.trials) == 3 * 2 * 2 and len(result.curves) == 3 * 2 * 2 * 3
    assert set(result.trials["arm"]) == {"transfer", "random", "image_transfer"}
    shared = study.shared_settings_check(result.settings)
    assert len(shared) == 4 and shared["identical"].all() and (shared["n_arms"] == 3).all()
    assert (result.settings.loc[result.settings["arm"] == "transfer", "encoder_tensors_from_cae"] > 0).all()
    assert (result.settings.loc[result.settings["arm"] != "transfer", "encoder_tensors_from_cae"] == 0).all()
    half = result.trials[result.trials["train_fraction"] == 0.5]
    assert (half["n_train"] == 15).all()
    assert (result.trials["f1_best_test_epoch"] >= result.trials["f1_selected"] - 1e-12).all()
    if model_selection == "best_test_epoch_as_in_paper":
        np.testing.assert_allclose(result.trials["f1"], result.trials["f1_best_test_epoch"])
        assert set(result.settings["monitor"]) == {"test_f1_weighted"}
    else:
        np.testing.assert_allclose(result.trials["f1"], result.trials["f1_selected"])
        assert set(result.settings["monitor"]) == {"val_f1_weighted"}
        assert result.curves["val_f1_weighted"].notna().all()
    # tampering with one arm's data is detected
    tampered = result.settings.copy()
    tampered.loc[0, "train_indices_sha"] = "different"
    assert not study.shared_settings_check(tampered)["identical"].all()


def test_validation_selection_needs_a_validation_split():
    signals, targets = _tiny_problem(n=12)
    with pytest.raises(ValueError, match="validation split"):
        study.run_data_starvation(
            {"random": signals},
            targets,
            train_index=np.arange(8),
            val_index=np.arange(0),
            test_index=np.arange(8, 12),
            n_classes=3,
            train_fractions=[1.0],
            n_trials=2,
            trial_resampling="bootstrap",
            epochs=2,
            lr=0.01,
            batch_size=4,
            optimizer="adam",
            model_selection="validation",
            head_hidden_units=[4],
            cae_options=TINY_CAE,
            encoder_state=None,
            seed=0,
            device="cpu",
            progress=False,
        )


def _fake_trials(image_gap=0.1):
    rows = []
    rng = np.random.default_rng(0)
    for fraction, random_mean in ((1.0, 0.84), (0.5, 0.83), (0.25, 0.55)):
        for trial in range(1, 6):
            for arm, mean in (
                ("transfer", 0.85),
                ("random", random_mean),
                ("image_transfer", 0.85 - image_gap),
            ):
                value = mean + 0.002 * rng.normal()
                rows.append(
                    dict(
                        arm=arm,
                        train_fraction=fraction,
                        trial=trial,
                        f1=value,
                        f1_best_test_epoch=value,
                        lci_test=1.5 if arm == "transfer" else 1.0 + 0.01 * trial,
                        lci_test_never_drops=False,
                        f1_selected=value,
                    )
                )
    return pd.DataFrame(rows)


import pandas as pd  # noqa: E402

from ecglib import claims, stats  # noqa: E402


def test_results_table_structure():
    trials = _fake_trials()
    table = study.results_table(
        trials, "f1", arms=["random", "image_transfer", "transfer"], pairs=study.F1_COMPARISONS
    )
    assert list(table.index) == [f"trial {i}" for i in range(1, 6)] + [
        "mean ± SD (ddof=1)",
        "n (trials)",
        "p (transfer vs random, Welch's t-test)",
        "p (transfer vs image_transfer, Welch's t-test)",
    ]
    assert list(table.columns)[:3] == ["100% random", "100% image_transfer", "100% transfer"]
    assert len(table.columns) == 9
    assert table.loc["mean ± SD (ddof=1)", "25% random"].startswith("0.55")
    assert table.loc["p (transfer vs random, Welch's t-test)", "25% transfer"] == "<0.001"
    assert set(table.loc["n (trials)"]) == {"5"}


def test_sd_convention_switch():
    trials = _fake_trials()
    reported = params.reported(STUDY)
    assert study.table_ddof("as_paper", reported, "table2_best_f1") == 1
    assert study.table_ddof("as_paper", reported, "table3_lci") == 0
    assert study.table_ddof("sample", reported, "table3_lci") == 1
    assert study.table_ddof("population", reported, "table2_best_f1") == 0
    with pytest.raises(ValueError, match="sd_convention"):
        study.table_ddof("bessel", reported, "table3_lci")
    values = trials[(trials["arm"] == "random") & (trials["train_fraction"] == 0.25)]["f1"].to_numpy()
    for ddof in (0, 1):
        table = study.results_table(trials, "f1", arms=["random"], pairs=(), ddof=ddof)
        mean, sd = table.loc[f"mean ± SD (ddof={ddof})", "25% random"].split(" ± ")
        assert float(sd) == pytest.approx(np.std(values, ddof=ddof), abs=5e-4)
        comparison = study.versus_paper(
            trials,
            "lci_test",
            reported,
            "table3_lci",
            arms=["random", "transfer"],
            pairs=study.LCI_COMPARISONS,
            quantity="LCI",
            ddof=ddof,
        )
        # ours named with our convention, the paper's with its own, its SD and p beside ours
        assert f"ours (mean ± SD, ddof={ddof})" in comparison.columns
        assert "paper (mean ± SD, ddof=0)" in comparison.columns
        row = comparison[(comparison["condition"] == "100%") & (comparison["arm"] == "random")].iloc[0]
        assert row["paper (mean ± SD, ddof=0)"] == "1.370 ± 0.178" and row["paper p"] == "0.45"
        assert row["n"] == 5
    assert np.std(values, ddof=0) != pytest.approx(np.std(values, ddof=1), abs=5e-5)


def test_versus_paper_states_both_sd_conventions():
    reported = params.reported(STUDY)
    table = study.versus_paper(
        _fake_trials(),
        "f1",
        reported,
        "table2_best_f1",
        arms=["random", "transfer"],
        pairs=study.F1_COMPARISONS,
        quantity="F1",
    )
    # Table 2's SDs are sample SDs
    assert "ours (mean ± SD, ddof=1)" in table.columns and "paper (mean ± SD, ddof=1)" in table.columns
    row = table[(table["condition"] == "25%") & (table["arm"] == "random")].iloc[0]
    assert row["paper mean"] == 0.543 and row["paper p"] == "<0.05"


def _verdicts(trials, **kwargs):
    options = (
        dict(
            image_arm_is_imagenet=True, recon_error_per_point=0.3, pca_error_per_point=0.7, pca_components=60
        )
        | kwargs
    )
    table = claims.evaluate(
        study.CLAIMS,
        study.claim_results(trials, **options),
        reported=params.reported(STUDY),
        data_source="chapman",
    )
    return dict(zip(table["claim"].str[:40], table["verdict"])), table


def test_claims_hold_on_paper_like_numbers_and_image_claim_needs_imagenet():
    trials = _fake_trials()
    verdicts, table = _verdicts(trials)
    assert list(verdicts.values()) == ["held"] * 4 + ["not testable here"]
    assert table["paper"].iloc[0].startswith("100%: 0.857 vs 0.843")
    verdicts, table = _verdicts(trials, image_arm_is_imagenet=False)
    image_claim = table[table["claim"].str.contains("2-D image")].iloc[0]
    assert image_claim["verdict"] == "undecided" and "ImageNet weights unavailable" in image_claim["note"]
    worse = _fake_trials(image_gap=-0.1)  # image arm better than transfer: the claim fails
    _, table = _verdicts(worse)
    assert table[table["claim"].str.contains("2-D image")].iloc[0]["verdict"] == "did not hold"


def test_claims_untested_when_the_autoencoder_learnt_nothing():
    trials = _fake_trials()
    _, failed = _verdicts(trials, recon_error_per_point=0.999)
    tested = failed[failed["verdict"] != "not testable here"]
    assert len(tested) == 4 and set(tested["verdict"]) == {"undecided"}
    assert all(
        note.startswith("The autoencoder did not beat a 60-component PCA")
        and "0.999" in note
        and "0.700" in note
        for note in tested["note"]
    )
    assert study.autoencoder_learned(0.95, None) is None and study.autoencoder_learned(0.6, 0.7)
    _, untold = _verdicts(trials, pca_error_per_point=None)
    assert set(untold["verdict"]) == {"held", "not testable here"}  # unknown baseline: the gate cannot shut
    # an arm that did not run leaves its claim undecided
    _, without_image = _verdicts(trials[trials["arm"] != "image_transfer"], image_arm_is_imagenet=None)
    assert without_image[without_image["claim"].str.contains("2-D image")].iloc[0]["verdict"] == "undecided"


class _Zeros(torch.nn.Module):
    def forward(self, x):
        return torch.zeros_like(x)


def test_gate_shuts_on_an_autoencoder_that_outputs_zeros():
    # z-scored "ECGs" with structure a 60-component PCA can capture: a few shared waveforms plus noise
    rng = np.random.default_rng(0)
    time_s = np.arange(256) / 64.0
    basis = np.stack(
        [np.sin(2 * np.pi * f * time_s + p) for f, p in ((1, 0), (1.3, 1), (2.1, 2), (3.7, 0.5))]
    )
    signals = rng.normal(size=(160, 4)) @ basis + 0.1 * rng.normal(size=(160, 256))
    signals = ((signals - signals.mean(1, keepdims=True)) / signals.std(1, keepdims=True))[:, :, None]
    train, test = signals[:120].astype(np.float32), signals[120:].astype(np.float32)
    zeros_per_point = cae.reconstruction_errors(_Zeros(), test).mean() / 256
    pca_errors, used = study.pca_reconstruction_errors(train, test, n_components=60)
    pca_per_point = pca_errors.mean() / 256
    assert zeros_per_point == pytest.approx(1.0, abs=1e-5) and used == 60 and pca_per_point < 0.1
    assert study.autoencoder_learned(zeros_per_point, pca_per_point) is False
    _, table = _verdicts(
        _fake_trials(), recon_error_per_point=zeros_per_point, pca_error_per_point=pca_per_point
    )
    gated = table[table["verdict"] != "not testable here"]
    assert set(gated["verdict"]) == {"undecided"} and all("1.000 vs PCA" in note for note in gated["note"])
    # PCA components are capped by the training examples
    assert study.pca_reconstruction_errors(train[:10], test, n_components=60)[1] == 10


def test_lci_flags_curves_that_never_drop_and_reports_robust_summaries():
    from ecglib.metrics import learning_curve_index, learning_curve_never_drops

    never_improving = [0.4, 0.4, 0.4, 0.4]
    falling = [0.5, 0.45, 0.4, 0.3]
    rising = [0.2, 0.3, 0.3, 0.5]  # never drops: divides by machine epsilon alone
    assert learning_curve_index(never_improving) == 0.0 and learning_curve_never_drops(never_improving)
    assert learning_curve_index(falling) == 0.0 and not learning_curve_never_drops(falling)
    assert learning_curve_index(rising) > 1e13 and learning_curve_never_drops(rising)
    # one such trial among ten: the mean and Welch's p are swamped; the median and the rank test are not
    rows = []
    for trial in range(1, 11):
        for arm, lci in (("transfer", 1.5 + 0.01 * trial), ("random", 1.0 + 0.01 * trial)):
            huge = arm == "random" and trial == 1
            rows.append(
                dict(
                    arm=arm,
                    train_fraction=0.5,
                    trial=trial,
                    lci_test=learning_curve_index(rising) if huge else lci,
                    lci_test_never_drops=huge,
                )
            )
    trials = pd.DataFrame(rows)
    summary = study.lci_summary(trials, arms=["random", "transfer"], ddof=0).set_index("arm")
    assert (
        summary.loc["random", "curves that never drop"] == 1
        and summary.loc["transfer", "curves that never drop"] == 0
    )
    assert summary.loc["random", "median"] == pytest.approx(1.065) and summary.loc["random", "n"] == 10
    # the p columns sit on arm B of the pair (random), with the n behind them
    assert summary.loc["random", "n vs transfer"] == "10 vs 10"
    assert summary.loc["transfer", "p vs transfer (Mann-Whitney U test)"] == ""
    metrics = study.headline_metrics(trials.assign(f1=0.8, f1_best_test_epoch=0.8))
    assert metrics["lci_never_drops_random_50"] == 1.0 and metrics["lci_median_random_50"] == pytest.approx(
        1.065
    )
    welch_p, rank_p = (
        metrics["p_lci_transfer_vs_random_50"],
        metrics["p_lci_mannwhitney_transfer_vs_random_50"],
    )
    assert rank_p < 0.01 and welch_p > 0.3
    assert summary.loc["random", "p vs transfer (Mann-Whitney U test)"] == stats.format_p(rank_p)
    assert summary.loc["random", "p vs transfer (Welch's t-test)"] == stats.format_p(welch_p)
    assert "not comparable" in study.lci_epochs_note(12) and "not comparable" not in study.lci_epochs_note(
        150
    )


def test_headline_metrics_names():
    metrics = study.headline_metrics(
        _fake_trials(), recon_total=600.0, recon_per_point=600 / 2048, pca_per_point=0.7
    )
    for arm in ("transfer", "random", "image_transfer"):
        for size in (100, 50, 25):
            assert f"f1_{arm}_{size}" in metrics and f"lci_{arm}_{size}" in metrics
            assert metrics[f"n_trials_{arm}_{size}"] == 5.0
    assert "p_f1_transfer_vs_random_25" in metrics and "p_lci_transfer_vs_random_50" in metrics
    assert all(np.isfinite(list(metrics.values())))


def test_paper_profile_fails_at_once_without_chapman_waveforms(tmp_path):
    cfg = params.load(STUDY, "paper")
    (tmp_path / "chapman").mkdir()
    (tmp_path / "chapman" / "Diagnostics.csv").write_text("FileName,Rhythm,Beat,PatientAge,Gender\n")
    with pytest.raises(DataMissingError, match="ecglib data download chapman"):
        study.check_data_present(cfg.data_source, chapman_denoised=cfg.chapman_denoised, data_root=tmp_path)
    with pytest.raises(DataMissingError, match="ecglib data download chapman"):
        study.downstream_from_params(cfg, data_root=tmp_path)
    with pytest.raises(DataMissingError, match="ecglib data download mitbih"):
        study.check_data_present("mitbih", data_root=tmp_path)


def test_load_downstream_sim_chapman_shapes():
    cfg = {**params.load(STUDY, "smoke").as_dict(), "sim_n_examples": 44}
    examples = study.downstream_from_params(cfg)
    assert examples.signals_mv.shape == (44, cfg["window_samples"], 1)
    assert len(examples.target_names) == 11 and examples.task == "single_label"
    np.testing.assert_allclose(examples.signals_mv.std(axis=1), 1, atol=1e-3)
    # the adaptor only reads cfg: the keyword call gives the same examples
    direct = study.load_downstream(
        "sim-chapman", seed=cfg["seed"], preprocessing=study.preprocess_kwargs(cfg), sim_n_examples=44
    )
    np.testing.assert_array_equal(direct.signals_mv, examples.signals_mv)
    np.testing.assert_array_equal(direct.targets, examples.targets)
    with pytest.raises(ValueError, match="data_source must be"):
        study.load_downstream("ptbxl", seed=0, preprocessing=study.preprocess_kwargs(cfg))


# --- the notebook through the runner --------------------------------------------------------

EXPECTED_METRICS = {
    "recon_error_total",
    "recon_error_per_point",
    "arms_share_settings",
    "image_arm_imagenet_weights",
    "f1_transfer_100",
    "f1_random_100",
    "f1_image_transfer_100",
    "lci_transfer_100",
    "lci_random_100",
    "f1_best_test_epoch_transfer_100",
    "pca_error_per_point",
    "lci_median_transfer_100",
    "n_trials_transfer_100",
}


@pytest.mark.notebook
def test_smoke_run_through_runner(smoke_run):
    import json

    run_dir = smoke_run(STUDY)  # shared with tests/test_study_pattern.py
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert EXPECTED_METRICS <= metrics.keys()
    assert metrics["arms_share_settings"] == 1.0
    assert metrics["image_arm_imagenet_weights"] == 0.0  # no ImageNet weights on CI machines
    provenance = json.loads((run_dir / "run.json").read_text())
    assert provenance["params"]["seed"] == 0 and provenance["status"] == "completed"
    assert provenance["image_arm"]["weights"] == "random"
    tables = run_dir / "tables"
    for name in (
        "table1_dataset",
        "reconstruction_error",
        "table2_best_f1",
        "table3_lci",
        "verdict",
        "arm_settings",
        "arms_share_settings",
        "table2_vs_paper",
        "table3_vs_paper",
    ):
        assert (tables / f"{name}.csv").is_file(), name
    for name in ("fig4_reconstructions", "fig5_learning_curves"):
        assert (run_dir / "figures" / f"{name}.png").is_file(), name
    # Table 2: trials, mean ± SD and p rows; two sizes x three arms; the random-weight image arm says so
    table2 = pd.read_csv(tables / "table2_best_f1.csv", index_col=0)
    assert list(table2.index) == [
        "trial 1",
        "trial 2",
        "mean ± SD (ddof=1)",
        "n (trials)",
        "p (transfer vs random, Welch's t-test)",
        "p (transfer vs image_transfer, Welch's t-test)",
    ]
    assert len(table2.columns) == 6
    table3 = pd.read_csv(tables / "table3_lci.csv", index_col=0)
    assert "mean ± SD (ddof=0)" in table3.index  # as_paper: Table 3's population SDs
    robust = pd.read_csv(tables / "table3_lci_robust.csv")
    assert {"median", "curves that never drop", "n"} <= set(robust.columns)
    image_columns = [c for c in table2.columns if "Image transfer" in c]
    assert len(image_columns) == 2 and all("ImageNet weights unavailable" in c for c in image_columns)
    # the three arms shared splits and hyperparameters in every trial
    settings = pd.read_csv(tables / "arm_settings.csv")
    assert set(settings["arm"]) == {"transfer", "random", "image_transfer"}
    for _, group in settings.groupby(["train_fraction", "trial"]):
        for column in study.SHARED_SETTINGS:
            assert group[column].nunique(dropna=False) == 1, column
    assert pd.read_csv(tables / "arms_share_settings.csv")["identical"].all()
    # the verdict names the synthetic source and tests nothing
    verdict = pd.read_csv(tables / "verdict.csv")
    assert set(verdict["verdict"]) == {"not tested on synthetic data", "not testable here"}
    comparison = pd.read_csv(tables / "reconstruction_error.csv")
    assert comparison["paper"].tolist()[:2] == [626.583, 0.305] and np.isnan(comparison["paper"].iloc[2])
    assert "pca_error_per_point" in metrics
