"""Writers of tiny datasets in each public dataset's exact native layout (into tmp_path).

Nothing binary is committed: every test builds its files here. Signals are small sines in
known physical units so the readers' unit conversion can be checked exactly.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

STANDARD_LEADS = ("I", "II", "III", "aVR", "aVL", "aVF", "V1", "V2", "V3", "V4", "V5", "V6")


def sine_mv(n_samples: int, n_leads: int, fs_hz: float, *, amplitude_mv: float = 1.0) -> np.ndarray:
    """Lead k = amplitude * (k+1)/n_leads * sin(2 pi 1 Hz t), shape (n_samples, n_leads)."""
    t = np.arange(n_samples) / fs_hz
    scales = (np.arange(n_leads) + 1) / n_leads
    return (amplitude_mv * np.sin(2 * np.pi * t)[:, None] * scales[None, :]).astype(np.float64)


# --------------------------------------------------------------------------- WFDB (PTB-XL, PTB)
def write_wfdb(
    base: Path, signal_mv: np.ndarray, fs_hz: float, lead_names, *, comments=(), fmt="16", gain=1000.0
):
    """A WFDB record ``base.hea``/``base.dat`` written with wfdb.wrsamp (digital, fixed gain)."""
    import wfdb

    base.parent.mkdir(parents=True, exist_ok=True)
    digital = np.round(signal_mv * gain).astype(np.int16)
    n_leads = signal_mv.shape[1]
    wfdb.wrsamp(
        base.name,
        fs=fs_hz,
        units=["mV"] * n_leads,
        sig_name=list(lead_names),
        d_signal=digital,
        fmt=[fmt] * n_leads,
        adc_gain=[gain] * n_leads,
        baseline=[0] * n_leads,
        comments=list(comments),
        write_dir=str(base.parent),
    )


PTBXL_LEADS_IN_FILE = ("I", "II", "III", "AVR", "AVL", "AVF", "V1", "V2", "V3", "V4", "V5", "V6")

#: A minimal scp_statements.csv (columns as in PTB-XL 1.0.3, subset of rows).
SCP_STATEMENTS = pd.DataFrame(
    {
        "description": [
            "normal ECG",
            "inferior MI",
            "non-specific ST changes",
            "complete LBBB",
            "left ventricular hypertrophy",
            "sinus rhythm",
        ],
        "diagnostic": [1.0, 1.0, 1.0, 1.0, 1.0, np.nan],
        "form": [np.nan, np.nan, 1.0, np.nan, np.nan, np.nan],
        "rhythm": [np.nan, np.nan, np.nan, np.nan, np.nan, 1.0],
        "diagnostic_class": ["NORM", "MI", "STTC", "CD", "HYP", np.nan],
        "diagnostic_subclass": ["NORM", "IMI", "STTC", "CLBBB", "LVH", np.nan],
    },
    index=pd.Index(["NORM", "IMI", "NDT", "CLBBB", "LVH", "SR"], name=None),
)


def write_ptbxl(folder: Path, scp_codes: list[dict], *, patient_ids=None, folds=None, with_500=True) -> Path:
    """PTB-XL 1.0.3 layout: ptbxl_database.csv, scp_statements.csv, records100/, records500/."""
    folder.mkdir(parents=True, exist_ok=True)
    rows = []
    for i, codes in enumerate(scp_codes):
        ecg_id = i + 1
        stem = f"{ecg_id:05d}"
        group = f"{(ecg_id // 1000) * 1000:05d}"
        filename_lr, filename_hr = f"records100/{group}/{stem}_lr", f"records500/{group}/{stem}_hr"
        rows.append(
            {
                "ecg_id": ecg_id,
                "patient_id": float(patient_ids[i] if patient_ids else 15000 + i),
                "age": 60.0,
                "sex": i % 2,
                "scp_codes": repr(codes),
                "strat_fold": folds[i] if folds else (i % 10) + 1,
                "filename_lr": filename_lr,
                "filename_hr": filename_hr,
            }
        )
        write_wfdb(folder / filename_lr, sine_mv(1000, 12, 100), 100, PTBXL_LEADS_IN_FILE)
        if with_500:
            write_wfdb(folder / filename_hr, sine_mv(5000, 12, 500), 500, PTBXL_LEADS_IN_FILE)
    pd.DataFrame(rows).to_csv(folder / "ptbxl_database.csv", index=False)
    SCP_STATEMENTS.to_csv(folder / "scp_statements.csv")
    return folder


def write_ptbxl_plus(folder: Path, ecg_ids, rr_ms, pr_ms, qrs_ms, qt_ms) -> Path:
    """PTB-XL+ 1.0.1 layout: features/12sl_features.csv (plus columns the reader must ignore)."""
    (folder / "features").mkdir(parents=True, exist_ok=True)
    frame = pd.DataFrame(
        {
            "ecg_id": ecg_ids,
            "HR__Global": [60000 / rr if rr else np.nan for rr in rr_ms],
            "RR_Mean_Global": rr_ms,
            "PR_Int_Global": pr_ms,
            "QRS_Dur_Global": qrs_ms,
            "QT_Int_Global": qt_ms,
            "P_Amp_I": 0.1,
        }
    )
    frame.to_csv(folder / "features" / "12sl_features.csv", index=False)
    return folder


def write_ptbdb(folder: Path, records: dict[str, str | None], *, n_samples=12000) -> Path:
    """PTB Diagnostic layout: RECORDS + patientNNN/sNNNNlre.{hea,dat} (15 leads, 1000 Hz).

    ``records`` maps ``patient001/s0010_re`` -> reason for admission (None = "n/a").
    """
    folder.mkdir(parents=True, exist_ok=True)
    leads = ("i", "ii", "iii", "avr", "avl", "avf", "v1", "v2", "v3", "v4", "v5", "v6", "vx", "vy", "vz")
    for record_id, reason in records.items():
        comments = [
            "age: 81",
            "sex: female",
            "ECG date: 01/10/1990",
            f"Reason for admission: {reason or 'n/a'}",
        ]
        write_wfdb(
            folder / record_id, sine_mv(n_samples, 15, 1000), 1000, leads, comments=comments, gain=2000.0
        )
    (folder / "RECORDS").write_text("".join(f"{record_id}\n" for record_id in records))
    return folder


# --------------------------------------------------------------------------- CinC 2020 (CPSC, Georgia)
def write_cinc_record(
    directory: Path, record_name: str, dx_codes, *, n_samples=5000, fs_hz=500, gain=1000, header_extra=""
):
    """``<id>.mat`` (MATLAB v4, int16 'val' (12, n)) and ``<id>.hea`` as in Challenge 2020."""
    from scipy.io import savemat

    directory.mkdir(parents=True, exist_ok=True)
    adc = np.round(sine_mv(n_samples, 12, fs_hz).T * gain).astype(np.int16)
    savemat(str(directory / f"{record_name}.mat"), {"val": adc}, format="4")
    lines = [f"{record_name} 12 {fs_hz} {n_samples} 05-Feb-2020 11:39:16"]
    for k, lead in enumerate(STANDARD_LEADS):
        lines.append(f"{record_name}.mat 16+24 {gain}/mV 16 0 {adc[k, 0]} 0 0 {lead}")
    lines += [
        "#Age: 74",
        "#Sex: Male",
        f"#Dx: {','.join(dx_codes)}",
        "#Rx: Unknown",
        "#Hx: Unknown",
        "#Sx: Unknown",
    ]
    (directory / f"{record_name}.hea").write_text("\n".join(lines) + "\n" + header_extra)


# --------------------------------------------------------------------------- CODE-test (HDF5)
def write_code_test(folder: Path, n_exams=5, *, labels=None, values_mv=None) -> Path:
    """ecg_tracings.hdf5 (dataset 'tracings', (n, 4096, 12) float32) + annotations/*.csv."""
    import h5py

    (folder / "annotations").mkdir(parents=True, exist_ok=True)
    if values_mv is None:
        values_mv = np.stack([sine_mv(4096, 12, 400) for _ in range(n_exams)]).astype(np.float32)
    with h5py.File(folder / "ecg_tracings.hdf5", "w") as handle:
        handle.create_dataset("tracings", data=values_mv)
    if labels is None:
        labels = np.zeros((len(values_mv), 6), dtype=int)
        labels[1, 0] = labels[2, 2] = labels[2, 4] = 1
    columns = ["1dAVb", "RBBB", "LBBB", "SB", "AF", "ST"]
    for annotator in ("gold_standard", "cardiologist1", "cardiologist2"):
        pd.DataFrame(labels, columns=columns).to_csv(folder / "annotations" / f"{annotator}.csv", index=False)
    pd.DataFrame({"age": [50] * len(values_mv), "is_male": [1] * len(values_mv)}).to_csv(
        folder / "attributes.csv", index=False
    )
    return folder


# --------------------------------------------------------------------------- Kaggle heartbeat (CSV)
def write_kaggle_heartbeat(folder: Path, n_rows=6) -> Path:
    """mitbih_{train,test}.csv and ptbdb_{normal,abnormal}.csv: no header, 187 values + label."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)

    def table(labels):
        beats = rng.uniform(0, 1, size=(len(labels), 187))
        return np.hstack([beats, np.asarray(labels, float)[:, None]])

    np.savetxt(folder / "mitbih_train.csv", table([i % 5 for i in range(n_rows)]), delimiter=",", fmt="%.18e")
    np.savetxt(folder / "mitbih_test.csv", table([0, 1, 2, 3, 4]), delimiter=",", fmt="%.18e")
    np.savetxt(folder / "ptbdb_normal.csv", table([0] * 3), delimiter=",", fmt="%.18e")
    np.savetxt(folder / "ptbdb_abnormal.csv", table([1] * 4), delimiter=",", fmt="%.18e")
    return folder


# --------------------------------------------------------------------------- DeepFake (.asc + CSV)
def write_deepfake(folder: Path, n_ecgs=3, *, missing_pr_for=()) -> Path:
    """Ground-truth CSV + from_006_.../<patid>.asc (5000 x 8 integer microvolts, space-separated)."""
    asc_dir = folder / "from_006_chck_2500_150k_filtered_all_normals_121977"
    asc_dir.mkdir(parents=True, exist_ok=True)
    rows = []
    for patid in range(n_ecgs):
        microvolts = np.round(sine_mv(5000, 8, 500) * 1000).astype(int)
        np.savetxt(asc_dir / f"{patid}.asc", microvolts, fmt="%d", delimiter=" ")
        rows.append(
            {
                "patid": patid,
                "ventricularrate": 60 + patid,
                "avgrrinterval": 1000 - 100 * patid,
                "pr": np.nan if patid in missing_pr_for else 150 + patid,
                "qrs": 90 + patid,
                "qt": 400 + patid,
            }
        )
    pd.DataFrame(rows).to_csv(folder / "filtered_all_normals_121977_ground_truth.csv", index=False)
    return folder


# --------------------------------------------------------------------------- LUDB (WFDB + per-lead annotations + ludb.csv)
LUDB_CSV_COLUMNS = (
    "ID,Sex,Age,Rhythms,Electric axis of the heart,Conduction abnormalities,Extrasystolies,"
    "Hypertrophies,Cardiac pacing,Ischemia,Non-specific repolarization abnormalities,Other states"
)


def write_ludb(
    folder: Path, records: dict[int, tuple[str, str]], *, rr_samples: int = 600, n_beats: int = 8
) -> Path:
    """``ludb/`` with RECORDS, ludb.csv and records 10 s x 12 leads at 500 Hz, QRS annotations on lead ii.

    ``records`` maps a record number to its (``Ischemia``, ``Cardiac pacing``) cells (several
    findings joined by newlines, as in the real file). Each record is a 1 Hz sine in mV
    with ``n_beats`` QRS triplets ``( N )`` every ``rr_samples`` from sample 500, written only in
    the lead-ii annotation file ``<n>.ii`` (wfdb writes letters-only extensions, so it is
    written as ``.tmp`` and renamed).
    """
    import wfdb

    data = folder / "data"
    data.mkdir(parents=True, exist_ok=True)
    (folder / "RECORDS").write_text("".join(f"data/{number}\n" for number in records))
    lines = [LUDB_CSV_COLUMNS]
    for number, (ischemia, pacing) in records.items():
        lines.append(f'{number},M,60,Sinus rhythm,,,,,"{pacing}","{ischemia}",,')
    (folder / "ludb.csv").write_text("\n".join(lines) + "\n")
    leads = ("i", "ii", "iii", "avr", "avl", "avf", "v1", "v2", "v3", "v4", "v5", "v6")
    peaks = 500 + rr_samples * np.arange(n_beats)
    samples = np.stack([peaks - 20, peaks, peaks + 20], axis=1).ravel()
    symbols = ["(", "N", ")"] * n_beats
    for number in records:
        write_wfdb(data / str(number), sine_mv(5000, 12, 500.0), 500.0, leads)
        wfdb.wrann(str(number), "tmp", samples, symbol=symbols, write_dir=str(data))
        (data / f"{number}.tmp").replace(data / f"{number}.ii")
    return folder
