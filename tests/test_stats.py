"""ecglib.stats: seeded resampling, summaries and tests against hand / scipy references."""

import math

import numpy as np
import pytest
import scipy.stats

from ecglib import stats


def test_bootstrap_indices_seeded_shape_and_range():
    first = stats.bootstrap_indices(7, 5, seed=3)
    assert first.shape == (5, 7) and first.dtype == np.int64
    assert first.min() >= 0 and first.max() < 7
    np.testing.assert_array_equal(first, stats.bootstrap_indices(7, 5, seed=3))
    assert not np.array_equal(first, stats.bootstrap_indices(7, 5, seed=4))


def test_bootstrap_indices_leave_global_rng_alone():
    np.random.seed(0)
    expected = np.random.random()
    np.random.seed(0)
    stats.bootstrap_indices(10, 3, seed=1)
    assert np.random.random() == expected


def test_subsample_indices_stratified_fraction_and_seed():
    labels = np.array([0] * 40 + [1] * 20 + [2] * 12)
    subsets = stats.subsample_indices(labels, 0.25, 10, seed=0)
    assert len(subsets) == 10
    for subset in subsets:
        assert len(subset) == 18  # round(0.25 * 72)
        assert len(np.unique(subset)) == len(subset)  # without replacement
        np.testing.assert_array_equal(np.bincount(labels[subset], minlength=3), [10, 5, 3])
    assert len({tuple(subset) for subset in subsets}) > 1  # rounds differ
    again = stats.subsample_indices(labels, 0.25, 10, seed=0)
    assert all(np.array_equal(a, b) for a, b in zip(subsets, again))
    assert stats.subsample_indices(labels, 1.0, 2, seed=0)[1].tolist() == list(range(72))


def test_subsample_indices_patient_wise_keeps_whole_patients():
    patient_ids = np.repeat([f"p{index}" for index in range(12)], 5)  # 12 patients x 5 examples
    labels = np.repeat([0, 1] * 6, 5)
    for subset in stats.subsample_indices(labels, 0.5, 4, seed=1, patient_ids=patient_ids):
        chosen = np.unique(patient_ids[subset])
        assert len(chosen) == 6
        assert len(subset) == 30  # every example of each chosen patient
        np.testing.assert_array_equal(np.bincount(labels[subset]), [15, 15])  # 3 patients per class


def test_subsample_indices_errors():
    with pytest.raises(ValueError, match="fraction"):
        stats.subsample_indices([0, 1, 0, 1], 0.0, 2, seed=0)
    with pytest.raises(ValueError, match="only 1 example"):
        stats.subsample_indices([0, 0, 0, 1], 0.5, 2, seed=0)
    assert len(stats.subsample_indices([0, 0, 0, 1], 0.5, 2, seed=0, stratify=False)[0]) == 2
    with pytest.raises(ValueError, match="patient_ids must have shape"):
        stats.subsample_indices([0, 1], 0.5, 2, seed=0, patient_ids=["a"])


def test_mean_sd_and_format():
    mean, sd = stats.mean_sd([1.0, 2.0, 3.0, 4.0])
    # mean 2.5; squared deviations 2.25+0.25+0.25+2.25 = 5 -> var 5/3 (ddof=1)
    assert mean == 2.5 and sd == pytest.approx(math.sqrt(5 / 3))
    assert stats.format_mean_sd([0.81, 0.83], digits=2, scale=100) == "82.00 ± 1.41"
    assert math.isnan(stats.mean_sd([1.0])[1])
    with pytest.raises(ValueError, match="empty|at least 1"):
        stats.mean_sd([])


def test_welch_ttest_matches_hand_computation_and_scipy():
    a = [1.0, 2.0, 3.0, 4.0]
    b = [2.0, 4.0, 6.0, 8.0, 10.0]
    # means 2.5 and 6; variances (ddof=1) 5/3 and 10 -> se^2 = (5/3)/4 + 10/5 = 29/12
    # t = (2.5 - 6) / sqrt(29/12) = -2.25146...
    # df = (29/12)^2 / ((5/12)^2 / 3 + 2^2 / 4) = 5.8403 / 1.05787 = 5.52081...
    result = stats.welch_ttest(a, b)
    assert result.t == pytest.approx(-3.5 / math.sqrt(29 / 12))
    assert result.df == pytest.approx((29 / 12) ** 2 / ((5 / 12) ** 2 / 3 + 1.0))
    reference = scipy.stats.ttest_ind(a, b, equal_var=False)
    assert result.t == pytest.approx(reference.statistic)
    assert result.p == pytest.approx(reference.pvalue)
    with pytest.raises(ValueError, match="at least 2"):
        stats.welch_ttest([1.0], b)


def test_paired_test_says_which_test_ran():
    a = np.array([0.80, 0.82, 0.85, 0.79, 0.90, 0.88])
    b = np.array([0.78, 0.80, 0.86, 0.75, 0.85, 0.84])
    t_result = stats.paired_test(a, b)
    assert "ttest_rel" in t_result.method and t_result.n == 6
    assert t_result.p == pytest.approx(scipy.stats.ttest_rel(a, b).pvalue)
    w_result = stats.paired_test(a, b, method="wilcoxon")
    assert "wilcoxon" in w_result.method
    assert w_result.p == pytest.approx(scipy.stats.wilcoxon(a, b).pvalue)
    with pytest.raises(ValueError, match="equal length"):
        stats.paired_test(a, b[:-1])
    with pytest.raises(ValueError, match="method"):
        stats.paired_test(a, b, method="sign")


def test_bootstrap_ci_seeded_and_covers_estimate():
    values = np.arange(20, dtype=float)
    ci = stats.bootstrap_ci(values, n_rounds=500, seed=0)
    assert ci.estimate == pytest.approx(9.5)
    assert ci.lower < 9.5 < ci.upper and ci.n_valid == 500
    assert stats.bootstrap_ci(values, n_rounds=500, seed=0) == ci
    assert stats.bootstrap_ci(values, n_rounds=500, seed=1) != ci


def test_bootstrap_ci_of_a_metric_on_paired_arrays():
    from ecglib.metrics import roc_auc

    y_true = np.array([0, 0, 1, 1, 0, 1, 0, 1])
    y_score = np.array([0.1, 0.3, 0.7, 0.9, 0.2, 0.6, 0.4, 0.8])  # perfectly ranked
    ci = stats.bootstrap_ci((y_true, y_score), roc_auc, n_rounds=200, seed=0)
    assert ci.estimate == 1.0 and ci.lower == 1.0 and ci.upper == 1.0
    assert 0 < ci.n_valid <= 200  # single-class resamples have no AUC and are left out
    with pytest.raises(ValueError, match="disagree in length"):
        stats.bootstrap_ci((y_true, y_score[:-1]), roc_auc, seed=0)


def test_adjust_pvalues_holm():
    # Holm: sorted p 0.01, 0.02, 0.04 times 3, 2, 1 -> 0.03, 0.04, 0.04 (monotone)
    np.testing.assert_allclose(stats.adjust_pvalues([0.04, 0.01, 0.02]), [0.04, 0.03, 0.04])


def test_rank_correlation_matches_a_hand_computation():
    # ranks x: 1 2 3 4 5; ranks y: 2 1 4 3 5; sum d^2 = 4 -> rho = 1 - 6*4 / (5*24) = 0.8
    result = stats.rank_correlation([10, 20, 30, 40, 50], [0.2, 0.1, 0.4, 0.3, 0.9])
    assert result.rho == pytest.approx(0.8) and result.n == 5
    # two-sided p of the t approximation scipy uses: t = rho * sqrt((n-2) / (1-rho^2)), 3 df
    t = 0.8 * np.sqrt(3 / (1 - 0.64))
    assert result.p == pytest.approx(2 * scipy.stats.t.sf(t, 3))
    assert stats.rank_correlation([1, 2, 3, 4], [4, 3, 2, 1]).rho == pytest.approx(-1.0)


def test_rank_correlation_refuses_bad_input_and_is_nan_for_a_constant_sample():
    assert np.isnan(stats.rank_correlation([1, 2, 3], [5, 5, 5]).rho)
    with pytest.raises(ValueError, match="at least 3"):
        stats.rank_correlation([1, 2], [2, 1])
    with pytest.raises(ValueError, match="NaN"):
        stats.rank_correlation([1, 2, np.nan], [2, 1, 3])
    with pytest.raises(ValueError, match="equal length"):
        stats.rank_correlation([1, 2, 3], [2, 1, 3, 4])


def test_mean_sd_states_its_sd_convention():
    values = [1.0, 2.0, 3.0, 4.0]
    assert stats.mean_sd(values)[1] == pytest.approx(np.std(values, ddof=1))  # default unchanged
    assert stats.mean_sd(values, ddof=0)[1] == pytest.approx(np.std(values))
    assert stats.mean_sd([2.0], ddof=0) == (2.0, 0.0)
    assert stats.format_mean_sd(values, digits=2, ddof=0) == "2.50 ± 1.12"
    assert stats.SD_CONVENTIONS[0].startswith("population") and stats.SD_CONVENTIONS[1].startswith("sample")
    with pytest.raises(ValueError, match="ddof"):
        stats.mean_sd(values, ddof=2)
    assert stats.format_p(0.0004) == "<0.001" and stats.format_p(0.0456) == "0.046"
    assert stats.format_p(float("nan")) == "n/a"


def test_mcnemar_counts_only_the_discordant_items():
    # 10 items right for A only, 2 for B only, 88 the same: exact binomial on 12 discordant pairs
    a = np.array([1] * 10 + [0] * 2 + [1] * 80 + [0] * 8)
    b = np.array([0] * 10 + [1] * 2 + [1] * 80 + [0] * 8)
    result = stats.compare_samples(a, b, test="mcnemar")
    assert result.mean_a == pytest.approx(0.90) and result.mean_b == pytest.approx(0.82)
    assert result.p == pytest.approx(scipy.stats.binomtest(2, 12, 0.5).pvalue)
    assert result.n_text == "100 pairs"
    # one discordant item of 100: nowhere near significant; none: undefined
    one = np.r_[1, b[1:]]
    assert stats.compare_samples(one, b, test="mcnemar").p == pytest.approx(1.0)
    assert math.isnan(stats.compare_samples(b, b, test="mcnemar").p)
    with pytest.raises(ValueError, match="0/1"):
        stats.compare_samples([0.5, 1.0], [1.0, 1.0], test="mcnemar")
    with pytest.raises(ValueError, match="equal length"):
        stats.compare_samples([1, 0, 1], [1, 0], test="mcnemar")
