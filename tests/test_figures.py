"""Shared figures: what each draws (lines, bands, markers, reference lines), checked on the axes."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

from ecglib import figures  # noqa: E402


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def test_long_curves_from_a_wide_history():
    history = pd.DataFrame({"epoch": [1, 2, 3], "train_loss": [0.9, 0.5, 0.4], "val_loss": [1.0, 0.7, 0.8]})
    long = figures.long_curves(history, {"train_loss": "training", "val_loss": "validation"}, panel="loss")
    assert list(long.columns) == ["epoch", "value", "series", "panel"] and len(long) == 6
    assert list(long.loc[long["series"] == "validation", "value"]) == [1.0, 0.7, 0.8]
    with pytest.raises(KeyError, match="val_acc"):
        figures.long_curves(history, {"val_acc": "validation"})


def test_epoch_curves_one_run_no_band_kept_epoch_line():
    history = pd.DataFrame({"epoch": [1, 2, 3], "train_loss": [0.9, 0.5, 0.4], "val_loss": [1.0, 0.7, 0.8]})
    fig = figures.epoch_curves(
        figures.long_curves(history, {"train_loss": "training", "val_loss": "validation"}),
        ylabel="binary cross-entropy",
        mark_epoch=2,
        markers=True,
    )
    (ax,) = fig.axes
    assert len(ax.collections) == 0  # one run per epoch: no SD band
    labels = [line.get_label() for line in ax.get_lines()]
    assert labels[:2] == ["training", "validation"] and "kept (epoch 2)" in labels


def test_epoch_curves_trials_give_mean_and_sd_band_per_panel():
    rows = []
    for panel in ("100%", "50%"):
        for series, level in (("transfer", 0.8), ("random", 0.6)):
            for trial in range(3):
                for epoch in range(1, 5):
                    rows.append(
                        dict(panel=panel, series=series, epoch=epoch, value=level + 0.01 * trial * epoch)
                    )
    fig = figures.epoch_curves(pd.DataFrame(rows), ylabel="F1", sharey=True, ylim=(0, 1), mark_best="max")
    assert len(fig.axes) == 2 and fig.axes[0].get_title() == "100%"
    ax = fig.axes[0]
    assert len(ax.collections) == 2  # a band per series
    mean_line = ax.get_lines()[0]
    np.testing.assert_allclose(mean_line.get_ydata(), 0.8 + 0.01 * np.arange(1, 5))
    band = ax.collections[0].get_paths()[0].vertices[:, 1]
    sd_at_epoch_4 = np.std([0.8, 0.84, 0.88], ddof=1)
    assert band.max() == pytest.approx(0.84 + sd_at_epoch_4)


def test_histogram_reference_lines_and_grouped_bars_with_paper_markers():
    fig = figures.histogram(
        [0.7, 0.9, 0.97],
        bins=np.linspace(0.5, 1, 11),
        xlabel="bacc",
        reference_lines={"95 %": 0.95, "75 %": 0.75},
    )
    ax = fig.axes[0]
    assert [line.get_xdata()[0] for line in ax.get_lines()] == [0.95, 0.75]
    assert sum(patch.get_height() for patch in ax.patches) == 3
    values = pd.DataFrame({"individual": [0.9, 0.8], "fine-tuned": [0.85, 0.95]}, index=["100", "203"])
    fig = figures.grouped_bars(values, ylabel="bacc", paper=pd.Series({"100": 0.713, "203": np.nan}))
    ax = fig.axes[0]
    assert len(ax.patches) == 4
    dots = [line for line in ax.get_lines() if line.get_label() == "paper"][0]
    assert dots.get_ydata()[0] == 0.713 and np.isnan(dots.get_ydata()[1])
    assert ax.get_ylim()[0] == pytest.approx(0.75)


def test_scatter_labels_identity_and_reconstruction_panels():
    fig = figures.scatter(
        [1, 2, 3], [1, 2, 4], xlabel="x", ylabel="y", labels=["a", "b", "c"], identity=True, hline=0
    )
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.texts] == ["a", "b", "c"]
    assert any(line.get_label() == "y = x" for line in ax.get_lines())
    with pytest.raises(ValueError, match="same shape"):
        figures.scatter([1, 2], [1], xlabel="x", ylabel="y")
    signals = np.zeros((2, 100))
    fig = figures.signal_vs_reconstruction(
        signals, signals + 0.1, fs_hz=50.0, ylabel="z", titles=["one", "two"]
    )
    assert len(fig.axes) == 2 and fig.axes[1].get_title() == "two"
    assert fig.axes[0].get_lines()[0].get_xdata()[-1] == pytest.approx(99 / 50.0)
    with pytest.raises(ValueError, match="k, n_samples"):
        figures.signal_vs_reconstruction(signals, signals[:1], fs_hz=50.0, ylabel="z")


def test_limits_of_agreement_bias_and_limits():
    reference = np.array([100.0, 110.0, 120.0, 130.0, np.nan])
    measured = np.array([102.0, 108.0, 124.0, 130.0, 500.0])  # differences 2, -2, 4, 0; the NaN pair dropped
    bias, lower, upper = figures.limits_of_agreement(reference, measured)
    sd = np.std([2.0, -2.0, 4.0, 0.0], ddof=1)
    assert bias == pytest.approx(1.0)
    assert (lower, upper) == pytest.approx((1.0 - 1.96 * sd, 1.0 + 1.96 * sd))
    assert all(np.isnan(figures.limits_of_agreement([1.0], [2.0])))
    with pytest.raises(ValueError, match="shape"):
        figures.limits_of_agreement([1.0, 2.0], [1.0])


def test_bland_altman_draws_differences_against_means_with_the_limits():
    rng = np.random.default_rng(0)
    reference = rng.normal(400, 30, 50)
    measured = reference + rng.normal(5, 3, 50)
    fig = figures.bland_altman(
        {"QT": (reference, measured), "QRS": (reference / 4, reference / 4)}, units={"QT": "ms"}
    )
    qt, qrs = fig.axes
    points = qt.collections[0].get_offsets()
    assert np.allclose(points[:, 0], (reference + measured) / 2)
    assert np.allclose(points[:, 1], measured - reference)
    bias, lower, upper = figures.limits_of_agreement(reference, measured)
    levels = sorted(line.get_ydata()[0] for line in qt.lines if len(line.get_ydata()))
    for level in (lower, 0.0, bias, upper):
        assert any(np.isclose(level, other) for other in levels)
    assert "(ms)" in qt.get_ylabel() and qrs.get_title() == "QRS"


def test_predicted_vs_true_has_one_panel_per_quantity_and_the_identity_line():
    fig = figures.predicted_vs_true(
        {"HR": ([60.0, 70.0, np.nan], [61.0, 69.0, 80.0]), "PR": ([150.0], [140.0])}
    )
    assert [ax.get_title() for ax in fig.axes] == ["HR", "PR"]
    assert len(fig.axes[0].collections[0].get_offsets()) == 2  # the NaN pair dropped
    assert any(line.get_label() == "y = x" for line in fig.axes[0].lines)


def test_confusion_matrices_put_true_classes_on_rows():
    from ecglib import metrics

    table = metrics.confusion_table(np.array([0, 0, 1, 2]), np.array([0, 1, 1, 1]), ("N", "S", "V"))
    assert table.loc["true N", "predicted S"] == 1 and table.loc["true V", "predicted S"] == 1
    assert table.to_numpy().sum(axis=1).tolist() == [2, 1, 1]  # rows count the true classes
    fig = figures.confusion_matrices({"CNN": table}, title="MIT-BIH")
    ax = fig.axes[0]
    assert ax.get_ylabel() == "true class" and ax.get_xlabel() == "predicted class"
    assert [t.get_text() for t in ax.get_yticklabels()] == ["N", "S", "V"]
