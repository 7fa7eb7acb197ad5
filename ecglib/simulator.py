"""Parametric multi-lead ECG simulator with exact ground truth (the engine).

How a signal is built
---------------------
1. **Heart vector.** Every beat is a sum of Gaussian waves (asymmetric ones for T) in a
   3D dipole space (x: to the patient's left, y: to the feet, z: to the back, as in
   Frank's lead system). P is two waves (right then left atrium), QRS four (septal q,
   main R, terminal S, and an extra late force used for bundle-branch blocks, ectopic
   and paced beats), then an ST-deviation wave and T.
2. **Leads.** The vectorcardiogram is projected onto leads I, II, V1-V6 with the inverse
   Dower matrix (Edenbrandt & Pahlm 1988 coefficients), perturbed per patient
   (electrode placement, torso). III, aVR, aVL and aVF are derived from I and II, so
   Einthoven's and Goldberger's identities hold exactly (in float32).
3. **Rhythm.** A per-example RR series (regular, respiratory sinus arrhythmia,
   irregularly irregular AF, flutter with 2:1-6:1 block, ...) gives the QRS onsets;
   each beat has a kind (N, S, V, F, Q as in AAMI) and an atrial mode (sinus P,
   ectopic P, retrograde P, wandering P, none). Atrial fibrillation and flutter add a
   continuous f/F-wave signal.
4. **Noise.** Baseline wander (0.05-0.5 Hz), mains (50 or 60 Hz plus a third harmonic)
   and bursty band-limited muscle noise are drawn per electrode (RA, LA, LL, C1-C6),
   mixed with random weights, turned into leads like the heart signal, and scaled so
   that the signal-to-noise ratio of the 12 leads equals the requested ``snr_db``
   (SNR = 10 log10 of mean-removed signal power over noise power, all leads pooled).

Everything is vectorised over examples with numpy. Ground truth comes from the
parameters, never from a detector: wave onsets/offsets are defined as the Gaussian
centres -/+ 2.5 sigma (P, T) or as the programmed QRS onset and duration.

Units: seconds inside, samples and milliseconds in the ground truth tables,
millivolts for every amplitude.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import signal as sps

LEAD_NAMES: tuple[str, ...] = ("I", "II", "III", "aVR", "aVL", "aVF", "V1", "V2", "V3", "V4", "V5", "V6")
INDEPENDENT_LEADS: tuple[str, ...] = ("I", "II", "V1", "V2", "V3", "V4", "V5", "V6")
ELECTRODES: tuple[str, ...] = ("RA", "LA", "LL", "C1", "C2", "C3", "C4", "C5", "C6")

#: Inverse Dower transform, rows I, II, V1-V6, columns (x, y, z) of the Frank VCG.
DOWER_INVERSE = np.array(
    [
        [0.632, -0.235, 0.059],
        [0.235, 1.066, -0.132],
        [-0.515, 0.157, -0.917],
        [0.044, 0.164, -1.387],
        [0.882, 0.098, -1.277],
        [1.213, 0.127, -0.601],
        [1.125, 0.127, -0.086],
        [0.831, 0.076, 0.230],
    ]
)

KINDS: tuple[str, ...] = ("N", "S", "V", "F", "Q")
KIND_N, KIND_S, KIND_V, KIND_F, KIND_Q = range(5)

#: rhythm generators known to :func:`simulate_rhythms`
RHYTHMS: tuple[str, ...] = (
    "sinus",
    "sinus_arrhythmia",
    "afib",
    "flutter",
    "svt",
    "avnrt",
    "avrt",
    "at",
    "wap",
)

# atrial modes of a beat
_P_NONE, _P_SINUS, _P_ECTOPIC, _P_RETRO, _P_WANDER = range(5)

# QRS shapes: centre and sigma of q, r, s and the extra force, as fractions of the QRS duration
QRS_SHAPE_NORMAL = (0.22, 0.085, 0.46, 0.11, 0.72, 0.095, 0.80, 0.10)
QRS_SHAPE_RBBB = (0.14, 0.06, 0.30, 0.075, 0.50, 0.075, 0.78, 0.10)
QRS_SHAPE_LBBB = (0.15, 0.07, 0.40, 0.15, 0.80, 0.06, 0.68, 0.12)
QRS_SHAPE_ECTOPIC = (0.15, 0.07, 0.38, 0.16, 0.80, 0.06, 0.68, 0.13)


def _electrode_to_independent() -> np.ndarray:
    """Matrix (9, 8): electrode potentials -> I, II, V1-V6 (chest leads against Wilson's terminal)."""
    m = np.zeros((9, 8))
    m[1, 0], m[0, 0] = 1.0, -1.0  # I = LA - RA
    m[2, 1], m[0, 1] = 1.0, -1.0  # II = LL - RA
    for k in range(6):
        m[3 + k, 2 + k] = 1.0
        m[0:3, 2 + k] = -1.0 / 3.0
    return m


ELECTRODE_TO_INDEPENDENT = _electrode_to_independent()


def _independent_to_leads() -> np.ndarray:
    """Matrix (8, 12): I, II, V1-V6 -> the 12 standard leads (Einthoven and Goldberger)."""
    m = np.zeros((8, 12))
    m[0, 0] = m[1, 1] = 1.0  # I, II
    m[1, 2], m[0, 2] = 1.0, -1.0  # III = II - I
    m[0, 3] = m[1, 3] = -0.5  # aVR = -(I + II) / 2
    m[0, 4], m[1, 4] = 1.0, -0.5  # aVL = I - II / 2
    m[1, 5], m[0, 5] = 1.0, -0.5  # aVF = II - I / 2
    for k in range(6):
        m[2 + k, 6 + k] = 1.0
    return m


INDEPENDENT_TO_LEADS = _independent_to_leads()


def leads_from_independent(independent_mv: np.ndarray) -> np.ndarray:
    """Twelve standard leads from I, II, V1-V6.

    Parameters
    ----------
    independent_mv : ndarray of shape (..., 8), millivolts, leads ``INDEPENDENT_LEADS``

    Returns
    -------
    ndarray of shape (..., 12), same dtype, leads ``LEAD_NAMES``; III = II - I,
    aVR = -(I + II) / 2, aVL = I - II / 2, aVF = II - I / 2. Each derived lead is a single
    rounded operation on I and II (coefficients 0, +-1, +-0.5), so the identities hold to
    the last bit but for one rounding.
    """
    return independent_mv @ INDEPENDENT_TO_LEADS.astype(independent_mv.dtype)


def _lead_power(independent_mv: np.ndarray, *, centre: bool) -> np.ndarray:
    """Mean power over the 12 leads, (n,), from (n, n_samples, 8) without forming the 12 leads."""
    x = independent_mv
    if centre:
        x = x - x.mean(axis=1, keepdims=True)
    cov = np.matmul(x.transpose(0, 2, 1), x).astype(np.float64) / x.shape[1]  # (n, 8, 8)
    d = INDEPENDENT_TO_LEADS
    return np.einsum("nij,ik,jk->n", cov, d, d) / d.shape[1]


# --------------------------------------------------------------------------- geometry helpers


def _unit(v) -> np.ndarray:
    v = np.asarray(v, dtype=float)
    return v / np.maximum(np.linalg.norm(v, axis=-1, keepdims=True), 1e-12)


def _rotation(rz: np.ndarray, ry: np.ndarray, rx: np.ndarray | None = None) -> np.ndarray:
    """Rotation matrices (n, 3, 3): about x (sagittal tilt), then y (transverse), then z (frontal)."""
    n = len(rz)
    rx = np.zeros(n) if rx is None else rx
    cz, sz, cy, sy, cx, sx = np.cos(rz), np.sin(rz), np.cos(ry), np.sin(ry), np.cos(rx), np.sin(rx)
    one, zero = np.ones(n), np.zeros(n)
    mz = np.stack(
        [np.stack([cz, -sz, zero], -1), np.stack([sz, cz, zero], -1), np.stack([zero, zero, one], -1)], -2
    )
    my = np.stack(
        [np.stack([cy, zero, sy], -1), np.stack([zero, one, zero], -1), np.stack([-sy, zero, cy], -1)], -2
    )
    mx = np.stack(
        [np.stack([one, zero, zero], -1), np.stack([zero, cx, -sx], -1), np.stack([zero, sx, cx], -1)], -2
    )
    return mz @ my @ mx


def _rotate(rot: np.ndarray, vectors: np.ndarray) -> np.ndarray:
    """Apply (n, 3, 3) rotations to (n, 3) vectors."""
    return np.einsum("nij,nj->ni", rot, vectors)


def _frontal(angle_rad: np.ndarray, z: np.ndarray) -> np.ndarray:
    """Unit vectors with frontal-plane angle ``angle_rad`` (0 = lead I, +90 deg = aVF) and depth ``z``."""
    return _unit(np.stack([np.cos(angle_rad), np.sin(angle_rad), z], axis=-1))


def _random_unit(rng: np.random.Generator, n: int) -> np.ndarray:
    return _unit(rng.standard_normal((n, 3)))


# --------------------------------------------------------------------------- morphology


def sample_morphology(
    n: int,
    rng: np.random.Generator,
    *,
    qrs_axis_deg: np.ndarray | None = None,
    t_axis_deg: np.ndarray | None = None,
    qrs_ms: np.ndarray | None = None,
    pr_ms: np.ndarray | None = None,
    qtc_ms: np.ndarray | None = None,
) -> dict[str, np.ndarray]:
    """Draw ``n`` base morphologies (one per patient), all vectors in millivolts.

    Parameters
    ----------
    n : number of morphologies
    rng : numpy random generator
    qrs_axis_deg, t_axis_deg : ndarray of shape (n,), frontal axes; drawn around 45 deg if None
    qrs_ms, pr_ms, qtc_ms : ndarray of shape (n,), intervals; drawn from normal adult ranges if None

    Returns
    -------
    dict of arrays with leading dimension n: vectors ``p1, p2, p_ectopic1, p_ectopic2, p_retro,
    q, r, s, x, st, t`` (n, 3) in mV; ``qrs_shape`` (n, 8); scalars ``qrs_s, pr_s, p_dur_s,
    qtc_s, t_sr_frac, t_sl_frac, qrs_axis_rad``; the ectopic-beat morphology ``v_q, v_r, v_s,
    v_x, v_t`` (n, 3), ``v_qrs_s``; paced-beat ``paced_r, paced_x, paced_t, spike`` and the
    per-patient lead field ``lead_field`` (n, 3, 8).
    """
    u = rng.uniform
    qrs_axis = np.deg2rad(qrs_axis_deg if qrs_axis_deg is not None else rng.normal(45, 30, n))
    t_axis = np.deg2rad(t_axis_deg if t_axis_deg is not None else rng.normal(42, 20, n))
    qrs_s = np.asarray(qrs_ms if qrs_ms is not None else rng.normal(88, 9, n).clip(66, 110)) / 1000.0
    pr_s = np.asarray(pr_ms if pr_ms is not None else rng.normal(155, 20, n).clip(115, 198)) / 1000.0
    qtc_s = np.asarray(qtc_ms if qtc_ms is not None else rng.normal(420, 20, n).clip(370, 470)) / 1000.0

    # QRS: built for axis 0, then rotated in the frontal plane to the axis and tilted in
    # the transverse plane (R-wave progression varies a lot between people).
    rot = _rotation(qrs_axis, rng.normal(0, np.deg2rad(15), n), rng.normal(0, np.deg2rad(8), n))
    r_amp = np.exp(rng.normal(np.log(1.3), 0.3, n)).clip(0.5, 3.0)
    q = (
        _rotate(rot, _unit(np.stack([np.full(n, -0.8), u(-0.2, 0.4, n), u(-0.9, -0.4, n)], -1)))
        * u(0.04, 0.3, n)[:, None]
    )
    r = _rotate(rot, _unit(np.stack([np.ones(n), np.zeros(n), u(0.05, 0.7, n)], -1))) * r_amp[:, None]
    s = (
        _rotate(rot, _unit(np.stack([np.full(n, -0.5), u(-0.9, -0.3, n), u(0.3, 0.9, n)], -1)))
        * u(0.1, 0.7, n)[:, None]
    )
    x = np.zeros((n, 3))

    t = _frontal(t_axis, u(-0.7, 0.15, n)) * u(0.15, 0.55, n)[:, None]

    p_rot = _rotation(rng.normal(0, np.deg2rad(12), n), rng.normal(0, np.deg2rad(10), n))
    p1 = _rotate(p_rot, np.tile(_unit([0.35, 0.85, -0.4]), (n, 1))) * u(0.05, 0.14, n)[:, None]
    p2 = _rotate(p_rot, np.tile(_unit([0.85, 0.35, 0.4]), (n, 1))) * u(0.04, 0.11, n)[:, None]
    # ectopic atrial focus: a P axis far from sinus (low atrial: negative in II; left atrial: negative in I)
    ectopic_axis = np.where(rng.random(n) < 0.6, u(-120, -40, n), u(100, 170, n))
    p_ectopic1 = _frontal(np.deg2rad(ectopic_axis), u(-0.6, 0.6, n)) * u(0.05, 0.14, n)[:, None]
    p_ectopic2 = (
        _frontal(np.deg2rad(ectopic_axis + rng.normal(0, 20, n)), u(-0.6, 0.6, n)) * u(0.03, 0.1, n)[:, None]
    )
    p_retro = _frontal(np.deg2rad(u(-110, -70, n)), u(-0.3, 0.4, n)) * u(0.06, 0.15, n)[:, None]

    # ectopic ventricular beats (PVCs): a unifocal origin per patient, wide, discordant T
    v_dir = _random_unit(rng, n)
    v_r = v_dir * u(1.2, 2.8, n)[:, None]
    v_x = _unit(v_dir + 0.8 * _random_unit(rng, n)) * u(0.2, 0.8, n)[:, None]
    v_t = -_unit(v_dir + 0.3 * _random_unit(rng, n)) * u(0.3, 0.8, n)[:, None]
    # paced beats (right-ventricular apex): left-superior-posterior, LBBB-like; spike before QRS
    paced_dir = _unit(np.stack([u(0.2, 0.7, n), u(-1.0, -0.6, n), u(0.3, 0.9, n)], -1))
    paced_r = paced_dir * u(1.0, 2.2, n)[:, None]
    paced_x = _unit(paced_dir + 0.5 * _random_unit(rng, n)) * u(0.2, 0.6, n)[:, None]
    paced_t = -_unit(paced_dir + 0.3 * _random_unit(rng, n)) * u(0.3, 0.7, n)[:, None]
    spike = _random_unit(rng, n) * u(1.0, 4.0, n)[:, None]

    lead_field = DOWER_INVERSE.T[None] * (1.0 + rng.normal(0, 0.08, (n, 3, 8))) + rng.normal(
        0, 0.05, (n, 3, 8)
    )
    return {
        "p1": p1,
        "p2": p2,
        "p_ectopic1": p_ectopic1,
        "p_ectopic2": p_ectopic2,
        "p_retro": p_retro,
        "q": q,
        "r": r,
        "s": s,
        "x": x,
        "st": np.zeros((n, 3)),
        "t": t,
        "qrs_shape": np.tile(np.array(QRS_SHAPE_NORMAL), (n, 1)),
        "qrs_s": qrs_s.astype(float),
        "pr_s": pr_s.astype(float),
        "p_dur_s": u(0.08, 0.11, n),
        "qtc_s": qtc_s.astype(float),
        "t_sr_frac": u(0.10, 0.14, n),
        "t_sl_frac": u(0.55, 0.85, n),
        "qrs_axis_rad": qrs_axis,
        "v_q": np.zeros((n, 3)),
        "v_r": v_r,
        "v_s": np.zeros((n, 3)),
        "v_x": v_x,
        "v_t": v_t,
        "v_qrs_s": u(0.12, 0.18, n),
        "paced_r": paced_r,
        "paced_x": paced_x,
        "paced_t": paced_t,
        "spike": spike,
        "lead_field": lead_field,
    }


def take_morphology(morph: dict[str, np.ndarray], index: np.ndarray) -> dict[str, np.ndarray]:
    """Rows ``index`` of every array in ``morph`` (e.g. patient morphology -> per example)."""
    return {key: value[index].copy() for key, value in morph.items()}


CONDITIONS: tuple[str, ...] = (
    "rbbb",
    "irbbb",
    "lbbb",
    "lafb",
    "ivcd",
    "iavb",
    "lvh",
    "rvh",
    "lae",
    "sttc",
    "twc",
    "mi",
)


def apply_condition(
    morph: dict[str, np.ndarray], condition: str, mask: np.ndarray, rng: np.random.Generator
) -> dict:
    """Modify the morphologies selected by ``mask`` in place to show ``condition``; returns extra ground truth.

    Conditions (clinical pattern -> what changes in the heart vector):

    - ``rbbb``: QRS 120-160 ms, late right-anterior force (rSR' in V1, wide S in I/V6)
    - ``irbbb``: QRS 100-118 ms with a small late right-anterior force
    - ``lbbb``: QRS 130-170 ms, no septal q, broad notched left-posterior R, discordant ST-T
    - ``lafb``: frontal QRS axis -45 to -75 deg
    - ``ivcd``: QRS 110-140 ms without a bundle-branch pattern
    - ``iavb``: PR 210-320 ms (first-degree AV block)
    - ``lvh``: R and S voltage x1.6-2.4, QRS +0-15 ms, strain (ST depression, T inversion) in half
    - ``rvh``: right axis (100-150 deg), anterior R (tall R in V1)
    - ``lae``: longer P with a larger left-atrial component
    - ``sttc``: ST depression (0.05-0.2 mV) opposite the main QRS force, T flattened
    - ``twc``: T flattened or inverted
    - ``mi``: a territory (anterior, inferior, lateral); pathological Q waves and loss of R
      toward it; old (T inversion, 70 %) or acute (ST elevation, 30 %)

    Returns
    -------
    dict of per-row extra ground truth (e.g. ``mi_territory``: array of str, '' where not MI)
    """
    idx = np.flatnonzero(mask)
    k = len(idx)
    extra: dict[str, np.ndarray] = {}
    if k == 0:
        return extra
    u = rng.uniform
    m = morph
    if condition in ("rbbb", "irbbb"):
        lo, hi, amp = (0.12, 0.16, (0.3, 0.8)) if condition == "rbbb" else (0.10, 0.118, (0.08, 0.3))
        m["qrs_s"][idx] = np.maximum(m["qrs_s"][idx], u(lo, hi, k))
        m["qrs_shape"][idx] = QRS_SHAPE_RBBB if condition == "rbbb" else QRS_SHAPE_NORMAL
        m["x"][idx] = (
            _unit(np.stack([u(-0.8, -0.4, k), u(-0.2, 0.2, k), u(-1.0, -0.6, k)], -1)) * u(*amp, k)[:, None]
        )
    elif condition == "lbbb":
        m["qrs_s"][idx] = u(0.13, 0.17, k)
        m["qrs_shape"][idx] = QRS_SHAPE_LBBB
        lbbb_dir = _unit(np.stack([u(0.6, 1.0, k), u(-0.3, 0.4, k), u(0.5, 1.0, k)], -1))
        m["q"][idx] = _unit(lbbb_dir + [0, 0, 0.5]) * u(0.05, 0.15, k)[:, None]
        m["r"][idx] = lbbb_dir * u(1.2, 2.2, k)[:, None]
        m["x"][idx] = _unit(lbbb_dir + 0.3 * _random_unit(rng, k)) * u(0.4, 1.0, k)[:, None]
        m["s"][idx] *= 0.2
        m["t"][idx] = -lbbb_dir * u(0.25, 0.6, k)[:, None]
        m["st"][idx] = -lbbb_dir * u(0.05, 0.15, k)[:, None]
    elif condition == "lafb":
        delta = np.deg2rad(u(-75, -45, k)) - m["qrs_axis_rad"][idx]
        rot = _rotation(delta, np.zeros(k))
        for key in ("q", "r", "s", "x"):
            m[key][idx] = _rotate(rot, m[key][idx])
        m["qrs_axis_rad"][idx] += delta
        m["qrs_s"][idx] += u(0.0, 0.015, k)
    elif condition == "ivcd":
        m["qrs_s"][idx] = np.maximum(m["qrs_s"][idx], u(0.11, 0.14, k))
    elif condition == "iavb":
        m["pr_s"][idx] = u(0.21, 0.32, k)
    elif condition == "lvh":
        m["r"][idx] *= u(1.6, 2.4, k)[:, None]
        m["s"][idx] *= u(1.5, 2.2, k)[:, None]
        m["qrs_s"][idx] += u(0.0, 0.015, k)
        strain = rng.random(k) < 0.5
        sidx = idx[strain]
        r_dir = _unit(m["r"][sidx])
        m["st"][sidx] = -r_dir * u(0.05, 0.15, len(sidx))[:, None]
        m["t"][sidx] = -_unit(r_dir + 0.3 * _random_unit(rng, len(sidx))) * u(0.1, 0.35, len(sidx))[:, None]
    elif condition == "rvh":
        delta = np.deg2rad(u(100, 150, k)) - m["qrs_axis_rad"][idx]
        rot = _rotation(delta, np.zeros(k))
        for key in ("q", "r", "s"):
            m[key][idx] = _rotate(rot, m[key][idx])
        m["qrs_axis_rad"][idx] += delta
        m["r"][idx] += np.stack([np.zeros(k), np.zeros(k), -u(0.6, 1.2, k)], -1)  # anterior: tall R in V1
        m["t"][idx] += np.stack([np.zeros(k), np.zeros(k), u(0.1, 0.3, k)], -1)  # T inverted in V1-V3
    elif condition == "lae":
        m["p_dur_s"][idx] = u(0.115, 0.14, k)
        m["p2"][idx] *= u(1.4, 2.0, k)[:, None]
    elif condition == "sttc":
        main = _unit(m["r"][idx])
        m["st"][idx] += -main * u(0.05, 0.2, k)[:, None]
        m["t"][idx] *= u(-0.4, 0.5, k)[:, None]
    elif condition == "twc":
        m["t"][idx] *= u(-0.9, 0.3, k)[:, None]
    elif condition == "mi":
        territory = rng.choice(np.array(["anterior", "inferior", "lateral"]), size=k, p=[0.4, 0.4, 0.2])
        directions = {"anterior": [0.15, 0.1, -1.0], "inferior": [0.0, 1.0, 0.1], "lateral": [1.0, -0.4, 0.1]}
        u_dir = _unit(np.stack([directions[name] for name in territory]) + rng.normal(0, 0.15, (k, 3)))
        # necrosis: the initial force points away from the territory (Q >= 40 ms), R toward it shrinks
        m["q"][idx] = -u_dir * u(0.25, 0.8, k)[:, None]
        m["qrs_shape"][idx, 0] = 0.2
        m["qrs_shape"][idx, 1] = np.maximum(0.11, 0.02 / m["qrs_s"][idx])
        r = m["r"][idx]
        toward = np.clip(np.einsum("ni,ni->n", r, u_dir), 0, None)
        m["r"][idx] = r - u(0.5, 0.9, k)[:, None] * toward[:, None] * u_dir
        acute = rng.random(k) < 0.3
        t = m["t"][idx]
        t_old = t - 1.5 * np.einsum("ni,ni->n", t, u_dir)[:, None] * u_dir - u_dir * u(0.1, 0.35, k)[:, None]
        t_acute = t + u_dir * u(0.1, 0.3, k)[:, None]
        m["t"][idx] = np.where(acute[:, None], t_acute, t_old)
        m["st"][idx] += np.where(acute[:, None], u_dir * u(0.1, 0.35, k)[:, None], 0.0)
        full = np.full(len(mask), "", dtype=object)
        full[idx] = territory
        extra["mi_territory"] = full
        stage = np.full(len(mask), "", dtype=object)
        stage[idx] = np.where(acute, "acute", "old")
        extra["mi_stage"] = stage
    else:
        raise ValueError(f"unknown condition {condition!r}; known: {', '.join(CONDITIONS)}")
    return extra


# --------------------------------------------------------------------------- rhythm


@dataclass
class RhythmSpec:
    """Per-example rhythm settings for :func:`simulate_rhythms` (all arrays of shape (n,)).

    rhythm : str, one of ``RHYTHMS``
    vent_rate_bpm : target mean ventricular rate
    atrial_rate_bpm : flutter wave rate (used by ``flutter`` only)
    p_kind : per-beat probabilities of ``KINDS`` (n, 5); N gets the remainder
    """

    rhythm: np.ndarray
    vent_rate_bpm: np.ndarray
    atrial_rate_bpm: np.ndarray | None = None
    p_kind: np.ndarray | None = None


def _rr_series(spec: RhythmSpec, n_beats: int, rng: np.random.Generator) -> tuple[np.ndarray, dict]:
    """RR intervals (n, n_beats) in seconds before ectopy, plus atrial-activity settings."""
    n = len(spec.rhythm)
    u = rng.uniform
    rr0 = 60.0 / spec.vent_rate_bpm
    j = np.arange(n_beats)[None, :]
    t_approx = j * rr0[:, None]
    rhythm = spec.rhythm
    resp_hz, resp_phase = u(0.15, 0.35, n)[:, None], u(0, 2 * np.pi, n)[:, None]

    def modulated(resp_amp, white_sd):
        resp = resp_amp[:, None] * np.sin(2 * np.pi * resp_hz * t_approx + resp_phase)
        return rr0[:, None] * (1.0 + resp + white_sd[:, None] * rng.standard_normal((n, n_beats)))

    rr = modulated(u(0.005, 0.03, n), u(0.004, 0.015, n))  # sinus, tachycardias get their own below
    sel = rhythm == "sinus_arrhythmia"
    if sel.any():  # respiratory sinus arrhythmia plus slower irregularity
        drift = np.cumsum(rng.normal(0, 0.02, (n, n_beats)), axis=1)
        drift -= drift.mean(axis=1, keepdims=True)
        rr_sa = modulated(u(0.06, 0.16, n), u(0.01, 0.04, n)) + rr0[:, None] * drift
        rr[sel] = rr_sa[sel]
    sel = rhythm == "wap"
    if sel.any():
        rr[sel] = modulated(u(0.02, 0.08, n), u(0.02, 0.05, n))[sel]
    sel = np.isin(rhythm, ["svt", "avnrt", "avrt", "at"])
    if sel.any():
        rr[sel] = (rr0[:, None] * (1.0 + u(0.002, 0.012, n)[:, None] * rng.standard_normal((n, n_beats))))[
            sel
        ]
    sel = rhythm == "afib"
    if sel.any():  # irregularly irregular: independent log-normal RR with CV 0.12-0.30
        cv = u(0.12, 0.30, n)[:, None]
        sigma = np.sqrt(np.log1p(cv**2))
        rr_af = rr0[:, None] * np.exp(sigma * rng.standard_normal((n, n_beats)) - sigma**2 / 2)
        rr[sel] = rr_af[sel]
    atrial = {}
    sel = rhythm == "flutter"
    if sel.any():  # F waves at 240-340/min conducted 2:1 to 6:1, sometimes variable
        atrial_rate = spec.atrial_rate_bpm if spec.atrial_rate_bpm is not None else u(240, 340, n)
        cycle_s = 60.0 / atrial_rate
        block = np.clip(np.round(spec.vent_rate_bpm**-1 * atrial_rate), 2, 6)
        variable = rng.random(n) < 0.35
        steps = np.where(variable[:, None], rng.integers(-1, 2, (n, n_beats)), 0)
        ratio = np.clip(block[:, None] + steps, 2, 6)
        rr_fl = ratio * cycle_s[:, None] + rng.normal(0, 0.003, (n, n_beats))
        rr[sel] = rr_fl[sel]
        atrial["flutter_cycle_s"] = cycle_s
        atrial["av_delay_s"] = u(0.18, 0.3, n)
    return np.clip(rr, 0.22, 3.0), atrial


def simulate_rhythms(
    spec: RhythmSpec,
    morph: dict[str, np.ndarray],
    *,
    fs_hz: float,
    duration_s: float,
    snr_db: np.ndarray | None,
    rng: np.random.Generator,
    forced_kinds: dict[int, np.ndarray] | None = None,
    keep_noise: bool = False,
) -> Simulation:
    """Simulate ``n`` 12-lead ECGs with exact ground truth.

    Parameters
    ----------
    spec : RhythmSpec with arrays of shape (n,)
    morph : per-example morphology, as from :func:`sample_morphology` / :func:`take_morphology`
    fs_hz : sampling rate in hertz (any; waves are evaluated analytically at the sample times)
    duration_s : record length in seconds
    snr_db : ndarray of shape (n,) or None (no noise); NaN entries mean no noise for that example
    rng : numpy random generator (the only source of randomness)
    forced_kinds : {beat index counted from the first beat after t = 0: kind codes (n,)}, to
        place a beat of a given kind (used by the beat datasets); -1 leaves a beat alone
    keep_noise : also return the noise that was added (for checks)

    Returns
    -------
    Simulation
    """
    n = len(spec.rhythm)
    n_samples = int(round(duration_s * fs_hz))
    unknown = set(np.unique(spec.rhythm)) - set(RHYTHMS)
    if unknown:
        raise ValueError(f"unknown rhythm(s) {sorted(unknown)}; known: {', '.join(RHYTHMS)}")
    lead_in_s = 1.5
    max_rate = float(np.max(spec.vent_rate_bpm)) * 1.6
    n_beats = int(np.ceil((duration_s + lead_in_s + 0.8) * max_rate / 60.0)) + 6
    rr, atrial = _rr_series(spec, n_beats, rng)
    rhythm = spec.rhythm
    no_p_rhythm = np.isin(rhythm, ["afib", "flutter"])

    # beat kinds and prematurity
    kinds = np.zeros((n, n_beats), dtype=np.int64)
    if spec.p_kind is not None:
        p_kind = np.array(spec.p_kind, dtype=float)
        p_kind[no_p_rhythm, KIND_S] = 0.0
        cum = np.cumsum(p_kind[:, 1:], axis=1)  # P(kind in S..code)
        draw = rng.random((n, n_beats))
        for code in range(4, 0, -1):
            kinds = np.where(draw < cum[:, code - 1 : code], code, kinds)
    start_shift_s = rng.uniform(0, 1, n) * rr[:, 0]
    forced = np.zeros((n, n_beats), dtype=bool)
    if forced_kinds:
        t_nominal = np.cumsum(rr, axis=1) - lead_in_s - start_shift_s[:, None]
        first_in = np.argmax(t_nominal >= 0, axis=1)
        for offset, codes in forced_kinds.items():
            codes = np.asarray(codes)
            col = first_in + offset
            ok = (codes >= 0) & (col < n_beats)
            kinds[np.flatnonzero(ok), col[ok]] = codes[ok]
            forced[np.flatnonzero(ok), col[ok]] = True
    coupling = np.ones((n, n_beats))
    is_premature = (kinds == KIND_V) | (kinds == KIND_S)
    coupling = np.where(is_premature, rng.uniform(0.55, 0.8, (n, n_beats)), coupling)
    coupling = np.where(kinds == KIND_F, rng.uniform(0.9, 1.0, (n, n_beats)), coupling)
    early = (1.0 - coupling) * rr
    rr = rr * coupling
    compensatory = (kinds == KIND_V) | (kinds == KIND_F)
    rr[:, 1:] += np.where(compensatory[:, :-1], early[:, :-1], 0.0)
    qrs_on_s = np.cumsum(rr, axis=1) - lead_in_s - start_shift_s[:, None]
    rr_prev = rr  # rr[:, j] is the interval that ends at beat j

    # atrial mode per beat
    p_mode = np.full((n, n_beats), _P_SINUS)
    p_mode[rhythm == "at"] = _P_ECTOPIC
    p_mode[rhythm == "wap"] = _P_WANDER
    p_mode[np.isin(rhythm, ["avnrt", "avrt"])] = _P_RETRO
    svt = rhythm == "svt"
    svt_mode = np.where(rng.random(n) < 0.75, _P_RETRO, _P_ECTOPIC)
    p_mode[svt] = svt_mode[svt][:, None]
    p_mode[no_p_rhythm] = _P_NONE
    p_mode = np.where(kinds == KIND_S, _P_ECTOPIC, p_mode)
    p_mode = np.where(kinds == KIND_V, _P_NONE, p_mode)
    p_mode = np.where((kinds == KIND_S) & no_p_rhythm[:, None], _P_NONE, p_mode)
    rp_s = np.select(
        [rhythm == "avnrt", rhythm == "avrt", svt],
        [
            rng.uniform(-0.005, 0.06, n),
            rng.uniform(0.09, 0.17, n),
            np.where(rng.random(n) < 0.5, rng.uniform(0.0, 0.06, n), rng.uniform(0.08, 0.16, n)),
        ],
        0.1,
    )
    ectopic_pr_s = rng.uniform(0.11, 0.2, n)
    wander_period_s = rng.uniform(3.0, 9.0, n)
    wander_phase = rng.uniform(0, 2 * np.pi, n)

    # keep beats that can touch the window
    keep = (qrs_on_s > -1.0) & (qrs_on_s < duration_s + 0.4)
    ex, col = np.nonzero(keep)
    b = {
        "ex": ex,
        "col": col,
        "qrs_on_s": qrs_on_s[ex, col],
        "kind": kinds[ex, col],
        "p_mode": p_mode[ex, col],
        "rr_prev_s": rr_prev[ex, col],
    }
    forced_beat = forced[ex, col]
    beats = _assemble_beats(b, morph, rp_s, ectopic_pr_s, wander_period_s, wander_phase, rng, fs_hz)
    vcg = render_waves(beats["waves"], n, n_samples, fs_hz)
    if no_p_rhythm.any():
        vcg += _atrial_activity(rhythm, atrial, qrs_on_s, n_samples, fs_hz, rng)
    independent = np.matmul(vcg, morph["lead_field"]).astype(np.float32)  # (n, S, 8)
    noise = clean = None
    if snr_db is not None:
        noise_ind = _noise_independent(n, n_samples, fs_hz, rng)
        p_signal = _lead_power(independent, centre=True)
        p_noise = _lead_power(noise_ind, centre=False)
        snr = np.asarray(snr_db, dtype=float)
        scale = np.where(
            np.isfinite(snr), np.sqrt(p_signal / (p_noise * 10 ** (np.nan_to_num(snr) / 10.0))), 0.0
        )
        noise_ind *= scale.astype(np.float32)[:, None, None]
        if keep_noise:
            noise, clean = leads_from_independent(noise_ind), leads_from_independent(independent)
        independent += noise_ind
    elif keep_noise:
        clean = leads_from_independent(independent)
    signals = leads_from_independent(independent)
    beats["forced"] = forced_beat
    beat_table = _beat_table(beats, fs_hz, n_samples)
    intervals = _interval_table(beat_table, n, fs_hz)
    return Simulation(
        signals_mv=signals,
        fs_hz=float(fs_hz),
        lead_names=LEAD_NAMES,
        beats=beat_table,
        intervals=intervals,
        noise_mv=noise,
        clean_mv=clean,
    )


def _assemble_beats(b, morph, rp_s, ectopic_pr_s, wander_period_s, wander_phase, rng, fs_hz) -> dict:
    """Per-beat parameters and the list of waves to render."""
    ex, kind, p_mode = b["ex"], b["kind"], b["p_mode"]
    nb = len(ex)
    m = {key: value[ex] for key, value in morph.items() if key != "lead_field"}
    jitter = lambda sd: 1.0 + rng.normal(0, sd, nb)[:, None]  # noqa: E731
    is_v, is_f, is_q = kind == KIND_V, kind == KIND_F, kind == KIND_Q
    wide = is_v | is_q

    # QRS: normal, ectopic (V), fusion (F: a mix), paced (Q)
    alpha = np.where(is_f, rng.uniform(0.3, 0.7, nb), np.where(wide, 1.0, 0.0))[:, None]
    v_r = np.where(is_q[:, None], m["paced_r"], m["v_r"])
    v_x = np.where(is_q[:, None], m["paced_x"], m["v_x"])
    v_t = np.where(is_q[:, None], m["paced_t"], m["v_t"])
    q = (1 - alpha) * m["q"] + alpha * m["v_q"]
    r = ((1 - alpha) * m["r"] + alpha * v_r) * jitter(0.04)
    s = ((1 - alpha) * m["s"] + alpha * m["v_s"]) * jitter(0.05)
    x = (1 - alpha) * m["x"] + alpha * v_x
    t = ((1 - alpha) * m["t"] + alpha * v_t) * jitter(0.05)
    st = (1 - alpha) * m["st"]
    shape = np.where(alpha > 0.5, np.array(QRS_SHAPE_ECTOPIC)[None], m["qrs_shape"])
    qrs_s = (1 - alpha[:, 0]) * m["qrs_s"] + alpha[:, 0] * np.maximum(m["v_qrs_s"], m["qrs_s"] + 0.02)
    qrs_s = qrs_s * (1.0 + rng.normal(0, 0.02, nb))

    # P wave
    has_p = p_mode != _P_NONE
    pr_s = np.select(
        [p_mode == _P_ECTOPIC, p_mode == _P_RETRO],
        [ectopic_pr_s[ex], -rp_s[ex]],
        m["pr_s"],
    ) + rng.normal(0, 0.004, nb)
    wander = 0.5 + 0.5 * np.sin(2 * np.pi * b["qrs_on_s"] / wander_period_s[ex] + wander_phase[ex])
    wander = np.where(p_mode == _P_WANDER, wander, 0.0)[:, None]
    p1 = np.select(
        [p_mode[:, None] == _P_ECTOPIC, p_mode[:, None] == _P_RETRO],
        [m["p_ectopic1"], m["p_retro"]],
        (1 - wander) * m["p1"] + wander * m["p_ectopic1"],
    ) * jitter(0.05)
    p2 = np.select(
        [p_mode[:, None] == _P_ECTOPIC, p_mode[:, None] == _P_RETRO],
        [m["p_ectopic2"], m["p_retro"] * 0.3],
        (1 - wander) * m["p2"] + wander * m["p_ectopic2"],
    ) * jitter(0.05)
    pr_s = pr_s - wander[:, 0] * 0.05  # the lower the focus, the shorter the PR
    p_dur_s = np.where(p_mode == _P_RETRO, 0.07, m["p_dur_s"])

    # T: QT follows the preceding RR (Bazett-like), ectopic beats repolarise later
    rr_ref = np.clip(b["rr_prev_s"], 0.25, 2.0)
    qt_s = m["qtc_s"] * np.sqrt(rr_ref) + np.where(wide, 0.04, 0.0) + rng.normal(0, 0.004, nb)
    qt_s = np.maximum(qt_s, qrs_s + 0.12)
    t_sr = m["t_sr_frac"] * qt_s
    t_peak = qt_s - 2.5 * t_sr
    t_sl = np.maximum(t_peak - qrs_s, 0.03) * m["t_sl_frac"] / 2.5

    on = b["qrs_on_s"]
    waves = []
    p_on = on - pr_s
    hp = np.flatnonzero(has_p)
    waves.append((ex[hp], (p_on + 0.38 * p_dur_s)[hp], (0.15 * p_dur_s)[hp], (0.15 * p_dur_s)[hp], p1[hp]))
    waves.append((ex[hp], (p_on + 0.62 * p_dur_s)[hp], (0.15 * p_dur_s)[hp], (0.15 * p_dur_s)[hp], p2[hp]))
    for k, vec in enumerate((q, r, s, x)):
        centre = on + shape[:, 2 * k] * qrs_s
        sigma = shape[:, 2 * k + 1] * qrs_s
        waves.append((ex, centre, sigma, sigma, vec))
    waves.append((ex, on + qrs_s + 0.03, np.full(nb, 0.012), np.maximum(0.5 * (t_peak - qrs_s), 0.02), st))
    waves.append((ex, on + t_peak, t_sl, t_sr, t))
    paced = np.flatnonzero(is_q)
    spike_sd = max(0.0006, 0.6 / fs_hz)
    waves.append(
        (
            ex[paced],
            on[paced] - 0.004,
            np.full(len(paced), spike_sd),
            np.full(len(paced), spike_sd),
            m["spike"][paced],
        )
    )
    # ground truth
    r_centre = on + shape[:, 2] * qrs_s
    return {
        "waves": waves,
        "ex": ex,
        "kind": kind,
        "has_p": has_p,
        "p_on_s": np.where(has_p, p_on, np.nan),
        "p_off_s": np.where(has_p, p_on + p_dur_s, np.nan),
        "qrs_on_s": on,
        "qrs_off_s": on + qrs_s,
        "r_peak_s": r_centre,
        "t_on_s": on + np.maximum(t_peak - 2.5 * t_sl, qrs_s),
        "t_off_s": on + qt_s,
    }


def render_waves(waves: list[tuple], n_examples: int, n_samples: int, fs_hz: float) -> np.ndarray:
    """Sum Gaussian waves into heart-vector signals.

    Parameters
    ----------
    waves : list of ``(example, centre_s, sigma_left_s, sigma_right_s, vector_mv)`` with arrays of
        shape (k,), (k,), (k,), (k,), (k, 3); each group is evaluated on a window of +/- 4 sigma
    n_examples, n_samples : output size
    fs_hz : sampling rate in hertz

    Returns
    -------
    ndarray of shape (n_examples, n_samples, 3), millivolts
    """
    flat_all, weight_all = [], []
    for ex, centre, sl, sr, vec in waves:
        nonzero = np.any(vec != 0, axis=1)
        if not nonzero.all():
            ex, centre, sl, sr, vec = ex[nonzero], centre[nonzero], sl[nonzero], sr[nonzero], vec[nonzero]
        if len(ex) == 0:
            continue
        half = int(np.ceil(4.0 * max(sl.max(), sr.max()) * fs_hz)) + 1
        offsets = np.arange(-half, half + 1, dtype=np.int64)
        start = np.round(centre * fs_hz).astype(np.int64)
        idx = start[:, None] + offsets[None, :]
        # time from the centre, in units of the left or right sigma
        dt = ((start - centre * fs_hz)[:, None] + offsets[None, :]).astype(np.float32)
        inv_sigma = np.where(
            dt < 0,
            (1.0 / (sl * fs_hz)).astype(np.float32)[:, None],
            (1.0 / (sr * fs_hz)).astype(np.float32)[:, None],
        )
        z = dt * inv_sigma
        shape = np.exp(np.float32(-0.5) * z * z)
        outside = (idx < 0) | (idx >= n_samples)
        shape[outside] = 0.0  # outside the record: weight 0 at a clipped index
        np.clip(idx, 0, n_samples - 1, out=idx)
        idx += (ex * n_samples)[:, None]
        flat_all.append(idx.ravel())
        weight_all.append(shape[None, :, :] * vec.T.astype(np.float32)[:, :, None])
    out = np.zeros((3, n_examples * n_samples))
    if flat_all:
        flat = np.concatenate(flat_all)
        weights = np.concatenate([w.reshape(3, -1) for w in weight_all], axis=1)
        for d in range(3):
            out[d] = np.bincount(flat, weights=weights[d], minlength=n_examples * n_samples)
    return out.reshape(3, n_examples, n_samples).transpose(1, 2, 0)


def _atrial_activity(rhythm, atrial, qrs_on_s, n_samples, fs_hz, rng) -> np.ndarray:
    """Fibrillatory f waves (AF) and sawtooth flutter F waves, (n, n_samples, 3) in mV."""
    n = len(rhythm)
    out = np.zeros((n, n_samples, 3))
    time_s = np.arange(n_samples) / fs_hz
    afib = np.flatnonzero(rhythm == "afib")
    if len(afib):
        k = len(afib)
        base_hz = rng.uniform(4.5, 8.5, k)[:, None]
        wave = np.zeros((k, n_samples))
        for _ in range(3):  # a few drifting, frequency-modulated components
            f_mod = rng.uniform(0.05, 0.3, (k, 1))
            freq = base_hz * rng.uniform(0.85, 1.15, (k, 1))
            phase = 2 * np.pi * freq * time_s + rng.uniform(0.5, 2.0, (k, 1)) * np.sin(
                2 * np.pi * f_mod * time_s + rng.uniform(0, 6.3, (k, 1))
            )
            envelope = 1.0 + 0.5 * np.sin(
                2 * np.pi * rng.uniform(0.1, 0.5, (k, 1)) * time_s + rng.uniform(0, 6.3, (k, 1))
            )
            wave += rng.uniform(0.3, 1.0, (k, 1)) * envelope * np.sin(phase + rng.uniform(0, 6.3, (k, 1)))
        wave /= np.maximum(np.abs(wave).max(axis=1, keepdims=True), 1e-9)
        direction = _unit(np.array([-0.2, 0.4, -0.9]) + rng.normal(0, 0.3, (k, 3)))
        amp = rng.uniform(0.02, 0.12, k)
        out[afib] = wave[:, :, None] * (direction * amp[:, None])[:, None, :]
    flutter = np.flatnonzero(rhythm == "flutter")
    if len(flutter):
        k = len(flutter)
        cycle = atrial["flutter_cycle_s"][flutter][:, None]
        # F waves are locked to the conducted beats: one starts av_delay before each QRS onset
        ref = qrs_on_s[flutter, :1] - atrial["av_delay_s"][flutter][:, None]
        phase = 2 * np.pi * (time_s[None, :] - ref) / cycle
        saw = sum(
            ((-1) ** (h + 1)) * np.sin(h * phase) / h for h in range(1, 6)
        )  # rising slowly, falling fast
        saw = -saw / 1.5  # negative sawtooth in the inferior leads: slow downslope, sharp upslope
        direction = _unit(np.array([0.1, 0.9, -0.4]) + rng.normal(0, 0.2, (k, 3)))
        amp = rng.uniform(0.08, 0.25, k)
        out[flutter] = saw[:, :, None] * (direction * amp[:, None])[:, None, :]
    return out


def _noise_independent(n: int, n_samples: int, fs_hz: float, rng: np.random.Generator) -> np.ndarray:
    """Unscaled noise on leads I, II, V1-V6, (n, n_samples, 8), float32.

    Every source is drawn per electrode (RA, LA, LL, C1-C6) and mapped to leads like the heart
    signal, so noise obeys the lead identities. Slow and mains sources are low-rank (a few
    waveforms with per-electrode gains); muscle noise is independent per electrode.
    """
    time_s = (np.arange(n_samples) / fs_hz).astype(np.float32)
    n_el = len(ELECTRODES)
    to_leads = ELECTRODE_TO_INDEPENDENT.T.astype(np.float32)  # (8, 9)
    # (work in (n, lead, sample) layout so that filters run along contiguous memory)
    # baseline wander: three slow sources (respiration, movement) with per-electrode gains
    freqs = rng.uniform(0.05, 0.5, (n, 3, 1)).astype(np.float32)
    phases = rng.uniform(0, 2 * np.pi, (n, 3, 1)).astype(np.float32)
    sources = np.sin(2 * np.pi * freqs * time_s + phases)
    wander = np.matmul(to_leads @ rng.standard_normal((n, n_el, 3)).astype(np.float32), sources)
    # mains: 50 or 60 Hz (plus a weak third harmonic), left out above Nyquist
    mains_hz = np.where(rng.random(n) < 0.5, 50.0, 60.0)[:, None]
    mains_wave = np.zeros((n, 1, n_samples), dtype=np.float32)
    for harmonic, gain in ((1, 1.0), (3, 0.2)):
        ok = harmonic * mains_hz < fs_hz / 2
        phase = rng.uniform(0, 2 * np.pi, (n, 1))
        wave = gain * np.sin((2 * np.pi * harmonic * mains_hz * time_s + phase).astype(np.float32))
        mains_wave[:, 0] += np.where(ok, wave, 0.0).astype(np.float32)
    mains = (to_leads @ rng.standard_normal((n, n_el, 1)).astype(np.float32)) * mains_wave
    # muscle: band-limited (20-150 Hz, capped below Nyquist) noise, in bursts
    white = to_leads @ rng.standard_normal((n, n_el, n_samples), dtype=np.float32)
    high_hz = min(150.0, 0.45 * fs_hz)
    low_hz = min(20.0, 0.5 * high_hz)
    sos = sps.butter(2, [low_hz, high_hz], btype="bandpass", fs=fs_hz, output="sos").astype(np.float32)
    emg = sps.sosfilt(sos, white, axis=-1).astype(np.float32, copy=False)
    burst_hz = rng.uniform(0.1, 1.0, (n, 1, 1)).astype(np.float32)
    envelope = 1.0 + 0.8 * np.sin(
        2 * np.pi * burst_hz * time_s + rng.uniform(0, 6.3, (n, 1, 1)).astype(np.float32)
    )
    emg *= envelope
    weights = rng.dirichlet([1.0, 0.5, 1.0], size=n)
    total = np.zeros((n, 8, n_samples), dtype=np.float32)
    for w, component in zip(weights.T, (wander, mains, emg)):
        rms = np.sqrt(np.einsum("nls,nls->n", component, component) / component[0].size)
        total += (np.sqrt(w) / np.maximum(rms, 1e-12)).astype(np.float32)[:, None, None] * component
    return np.ascontiguousarray(total.transpose(0, 2, 1))


# --------------------------------------------------------------------------- ground truth


@dataclass
class Simulation:
    """Signals and exact ground truth from :func:`simulate_rhythms`.

    Attributes
    ----------
    signals_mv : ndarray of shape (n, n_samples, 12), float32, millivolts, leads ``lead_names``
    fs_hz : sampling rate in hertz
    lead_names : the 12 standard leads
    beats : DataFrame, one row per beat whose QRS onset lies in the record: ``example, beat,
        kind`` (N/S/V/F/Q), ``has_p``, and sample indices ``p_onset, p_offset`` (-1 if no P),
        ``qrs_onset, r_peak, qrs_offset, t_onset, t_offset`` (may lie outside the record
        for beats at the edges), ``forced`` (the beat was placed by ``forced_kinds``)
    intervals : DataFrame, one row per example: ``hr_bpm`` (60 / mean RR), ``rr_cv``, and
        medians over beats of ``pr_ms`` (NaN without P), ``qrs_ms``, ``qt_ms``, plus ``n_beats``
    noise_mv, clean_mv : the added noise and the noise-free signals when ``keep_noise``, else None
    """

    signals_mv: np.ndarray
    fs_hz: float
    lead_names: tuple[str, ...]
    beats: pd.DataFrame
    intervals: pd.DataFrame
    noise_mv: np.ndarray | None = None
    clean_mv: np.ndarray | None = None


def _beat_table(beats: dict, fs_hz: float, n_samples: int) -> pd.DataFrame:
    def to_samples(seconds):
        return np.where(np.isfinite(seconds), np.round(np.nan_to_num(seconds) * fs_hz), -1).astype(np.int64)

    qrs_onset = to_samples(beats["qrs_on_s"])
    inside = (qrs_onset >= 0) & (qrs_onset < n_samples)
    table = pd.DataFrame(
        {
            "example": beats["ex"],
            "kind": np.array(KINDS)[beats["kind"]],
            "has_p": beats["has_p"],
            "p_onset": to_samples(beats["p_on_s"]),
            "p_offset": to_samples(beats["p_off_s"]),
            "qrs_onset": qrs_onset,
            "r_peak": to_samples(beats["r_peak_s"]),
            "qrs_offset": to_samples(beats["qrs_off_s"]),
            "t_onset": to_samples(beats["t_on_s"]),
            "t_offset": to_samples(beats["t_off_s"]),
            "forced": beats.get("forced", np.zeros(len(qrs_onset), dtype=bool)),
        }
    )[inside]
    table = table.sort_values(["example", "qrs_onset"], kind="stable").reset_index(drop=True)
    table.insert(1, "beat", table.groupby("example").cumcount())
    return table


def _interval_table(beats: pd.DataFrame, n: int, fs_hz: float) -> pd.DataFrame:
    ms = 1000.0 / fs_hz
    per_beat = pd.DataFrame(
        {
            "example": beats["example"],
            "pr_ms": np.where(beats["has_p"], (beats["qrs_onset"] - beats["p_onset"]) * ms, np.nan),
            "qrs_ms": (beats["qrs_offset"] - beats["qrs_onset"]) * ms,
            "qt_ms": (beats["t_offset"] - beats["qrs_onset"]) * ms,
            "rr_ms": beats.groupby("example")["qrs_onset"].diff() * ms,
        }
    )
    grouped = per_beat.groupby("example")
    table = pd.DataFrame(index=pd.RangeIndex(n, name="example"))
    table["hr_bpm"] = 60000.0 / grouped["rr_ms"].mean()
    table["rr_cv"] = grouped["rr_ms"].std() / grouped["rr_ms"].mean()
    normal = per_beat[beats["kind"].to_numpy() == "N"].groupby("example")
    for column in ("pr_ms", "qrs_ms", "qt_ms"):
        table[column] = normal[column].median()
        table[column] = table[column].fillna(grouped[column].median())
    table["n_beats"] = grouped.size()
    table["n_beats"] = table["n_beats"].fillna(0).astype(int)
    return table.reset_index(drop=True)
