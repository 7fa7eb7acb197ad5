"""Downloader and status, against a local HTTP server on 127.0.0.1 serving a tmp mirror."""

from __future__ import annotations

import hashlib
import io
import json
import tarfile
import threading
import zipfile
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import native_layouts
import pytest

from ecglib.data import download as dl
from ecglib.data import status


class Mirror:
    """A ThreadingHTTPServer serving files under ``root``; honours ``Range``; can truncate."""

    def __init__(self, root: Path):
        self.root = root
        self.requests: list[tuple[str, str | None]] = []
        self.truncate: set[str] = set()  # URL paths served with half the bytes they announce
        mirror = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # keep pytest output clean
                pass

            def do_GET(self):
                path = self.path.split("?")[0]
                mirror.requests.append((path, self.headers.get("Range")))
                file_path = mirror.root / path.lstrip("/")
                if file_path.is_dir() and (file_path / "index.json").is_file():
                    file_path = file_path / "index.json"  # lets a URL be both a document and a folder
                if not file_path.is_file():
                    self.send_error(404)
                    return
                data = file_path.read_bytes()
                start = 0
                range_header = self.headers.get("Range")
                if range_header and range_header.startswith("bytes="):
                    start = int(range_header[len("bytes=") :].split("-")[0])
                    if start >= len(data):
                        self.send_response(416)
                        self.send_header("Content-Range", f"bytes */{len(data)}")
                        self.end_headers()
                        return
                    self.send_response(206)
                    self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
                else:
                    self.send_response(200)
                body = data[start:]
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if path in mirror.truncate:
                    body = body[: len(body) // 2]
                self.wfile.write(body)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def stop(self):
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)


@pytest.fixture
def mirror(tmp_path):
    (tmp_path / "mirror").mkdir()
    server = Mirror(tmp_path / "mirror")
    yield server
    server.stop()


@pytest.fixture(autouse=True)
def isolated_env(tmp_path, monkeypatch):
    monkeypatch.delenv(dl.MIRROR_ENV, raising=False)
    monkeypatch.setenv("ECGLIB_DATA", str(tmp_path / "data"))


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def make_physionet_challenge_mirror(project: Path, *, wrong_digest_for: str | None = None) -> dict[str, Path]:
    """challenge-2020 layout: training/cpsc_2018/g1/*.{hea,mat}, a Georgia record, SHA256SUMS.txt."""
    native_layouts.write_cinc_record(project / "training/cpsc_2018/g1", "A0001", ["426783006"])
    native_layouts.write_cinc_record(project / "training/cpsc_2018/g1", "A0002", ["164889003", "59118001"])
    native_layouts.write_cinc_record(project / "training/georgia/g1", "E00001", ["426177001"])
    files = {p.relative_to(project).as_posix(): p for p in sorted(project.rglob("*")) if p.is_file()}
    lines = []
    for relative, path in files.items():
        digest = "0" * 64 if relative == wrong_digest_for else sha256(path)
        lines.append(f"{digest} {relative}")
    (project / "SHA256SUMS.txt").write_text("\n".join(lines) + "\n")
    return files


def test_physionet_download_verifies_strips_prefix_and_marks_complete(mirror, tmp_path):
    project = mirror.root / "challenge-2020"
    make_physionet_challenge_mirror(project)
    folder = dl.download("cpsc2018", base_url=f"{mirror.url}/challenge-2020/", progress=False)

    assert folder == tmp_path / "data" / "cpsc2018"
    assert sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*.hea")) == [
        "g1/A0001.hea",
        "g1/A0002.hea",
    ]
    assert not (tmp_path / "data" / "cpsc2018.partial").exists()
    marker = json.loads((folder / dl.MARKER).read_text())
    assert marker["checksums_verified"] is True and marker["version"] == "challenge-2020 1.0.2"
    assert marker["sha256"]["g1/A0001.mat"] == sha256(project / "training/cpsc_2018/g1/A0001.mat")
    # only the listing and the 4 CPSC files were requested; Georgia was filtered out
    assert len(mirror.requests) == 5
    assert not any("georgia" in path for path, _ in mirror.requests)

    from ecglib.data import cpsc2018

    labelled = cpsc2018.load_labelled()
    assert labelled.signals_mv.shape == (2, 5000, 12)

    # a second call finds the marker and sends no request
    dl.download("cpsc2018", base_url=f"{mirror.url}/challenge-2020/", progress=False)
    assert len(mirror.requests) == 5


def test_resume_of_a_part_file_uses_range(mirror, tmp_path):
    project = mirror.root / "challenge-2020"
    files = make_physionet_challenge_mirror(project)
    mat = files["training/cpsc_2018/g1/A0001.mat"]
    data = mat.read_bytes()
    part = tmp_path / "data" / "cpsc2018.partial" / "g1" / "A0001.mat.part"
    part.parent.mkdir(parents=True)
    part.write_bytes(data[:100])

    folder = dl.download("cpsc2018", base_url=f"{mirror.url}/challenge-2020/", progress=False)

    assert (folder / "g1" / "A0001.mat").read_bytes() == data
    ranged = [(path, rng) for path, rng in mirror.requests if rng]
    assert ranged == [("/challenge-2020/training/cpsc_2018/g1/A0001.mat", "bytes=100-")]


def test_truncated_transfer_is_reported_and_resumable(mirror, tmp_path):
    project = mirror.root / "challenge-2020"
    make_physionet_challenge_mirror(project)
    mirror.truncate.add("/challenge-2020/training/cpsc_2018/g1/A0002.mat")

    with pytest.raises(dl.DownloadError, match=r"A0002\.mat.*(truncated|interrupted)"):
        dl.download("cpsc2018", base_url=f"{mirror.url}/challenge-2020/", progress=False)
    assert not (tmp_path / "data" / "cpsc2018").exists()
    assert (tmp_path / "data" / "cpsc2018.partial" / "g1" / "A0002.mat.part").exists()
    row = next(r for r in status.status_rows() if r["name"] == "cpsc2018")
    assert row["present"] is False and row["partial"] is True

    mirror.truncate.clear()
    n_before = len(mirror.requests)
    folder = dl.download("cpsc2018", base_url=f"{mirror.url}/challenge-2020/", progress=False)
    assert (folder / "g1" / "A0002.mat").read_bytes() == (
        project / "training/cpsc_2018/g1/A0002.mat"
    ).read_bytes()
    # files finished in the first run are not fetched again: listing + the resumed .mat + its .hea at most
    assert len(mirror.requests) - n_before <= 3


def test_wrong_checksum_names_the_file_and_leaves_no_complete_dataset(mirror, tmp_path):
    project = mirror.root / "challenge-2020"
    make_physionet_challenge_mirror(project, wrong_digest_for="training/cpsc_2018/g1/A0002.hea")

    with pytest.raises(dl.ChecksumError, match=r"A0002\.hea"):
        dl.download("cpsc2018", base_url=f"{mirror.url}/challenge-2020/", progress=False)
    assert not (tmp_path / "data" / "cpsc2018").exists()
    partial = tmp_path / "data" / "cpsc2018.partial"
    assert not (partial / dl.MARKER).exists()
    assert not (partial / "g1" / "A0002.hea").exists() and not (partial / "g1" / "A0002.hea.part").exists()
    row = next(r for r in status.status_rows() if r["name"] == "cpsc2018")
    assert row["present"] is False


def write_zip(path: Path, members: dict[str, bytes]) -> None:
    with zipfile.ZipFile(path, "w") as handle:
        for name, data in members.items():
            handle.writestr(name, data)


def test_archive_with_path_traversal_is_refused(mirror, tmp_path):
    (mirror.root / "deepfake").mkdir()
    write_zip(mirror.root / "deepfake" / "archive.zip", {"ok.txt": b"fine", "../evil.txt": b"pwned"})

    with pytest.raises(dl.UnsafeArchiveError, match=r"\.\./evil\.txt"):
        dl.download("deepfake", base_url=f"{mirror.url}/deepfake/", progress=False)
    assert not (tmp_path / "data" / "evil.txt").exists()
    assert not (tmp_path / "data" / "deepfake").exists()
    assert not list((tmp_path / "data").rglob("evil.txt"))


@pytest.mark.parametrize("kind", ["absolute", "zip_symlink", "tar_symlink_outside", "tar_parent"])
def test_extract_archive_refuses_escaping_members(tmp_path, kind):
    archive = tmp_path / ("a.zip" if kind in ("absolute", "zip_symlink") else "a.tar")
    if kind == "absolute":
        write_zip(archive, {"/etc/evil": b"x"})
    elif kind == "zip_symlink":
        with zipfile.ZipFile(archive, "w") as handle:
            info = zipfile.ZipInfo("link")
            info.external_attr = 0o120777 << 16
            handle.writestr(info, "/etc/passwd")
    else:
        with tarfile.open(archive, "w") as handle:
            member = tarfile.TarInfo("link" if kind == "tar_symlink_outside" else "../up.txt")
            if kind == "tar_symlink_outside":
                member.type, member.linkname = tarfile.SYMTYPE, "../../outside"
                handle.addfile(member)
            else:
                member.size = 1
                handle.addfile(member, io.BytesIO(b"x"))
    with pytest.raises(dl.UnsafeArchiveError):
        dl.extract_archive(archive, tmp_path / "out")
    assert not (tmp_path / "out" / "link").exists()
    assert not (tmp_path / "up.txt").exists()


def zenodo_mirror(mirror_root: Path, zip_path_builder, *, md5: str | None = None) -> Path:
    """Zenodo API layout: api/records/3765780 (served from its index.json) and .../files/data.zip/content."""
    record = mirror_root / "code-test" / "api" / "records" / "3765780"
    content = record / "files" / "data.zip" / "content"
    content.parent.mkdir(parents=True)
    zip_path_builder(content)
    digest = md5 or hashlib.md5(content.read_bytes()).hexdigest()
    description = {
        "files": [{"key": "data.zip", "size": content.stat().st_size, "checksum": f"md5:{digest}"}]
    }
    (record / "index.json").write_text(json.dumps(description))
    return content


def test_zenodo_record_md5_and_zip_extraction_end_to_end(mirror, tmp_path):
    source = native_layouts.write_code_test(tmp_path / "code_src" / "data", n_exams=4)

    def build(path):
        with zipfile.ZipFile(path, "w") as handle:
            for member in sorted(source.rglob("*")):
                if member.is_file():
                    handle.write(member, "data/" + member.relative_to(source).as_posix())

    zenodo_mirror(mirror.root, build)
    folder = dl.download("code-test", base_url=f"{mirror.url}/code-test/", progress=False)

    marker = json.loads((folder / dl.MARKER).read_text())
    assert marker["verified_against"] == "Zenodo md5 checksums" and marker["checksums_verified"] is True
    assert not (folder / "data.zip").exists()
    assert "data/ecg_tracings.hdf5" in marker["sha256"]
    assert len(mirror.requests) == 2

    from ecglib.data import code_test

    labelled = code_test.load_labelled()
    assert labelled.signals_mv.shape == (4, 4096, 12)


def test_zenodo_md5_mismatch_is_reported(mirror, tmp_path):
    zenodo_mirror(mirror.root, lambda path: write_zip(path, {"x.txt": b"x"}), md5="0" * 32)
    with pytest.raises(dl.ChecksumError, match=r"data\.zip: MD5"):
        dl.download("code-test", base_url=f"{mirror.url}/code-test/", progress=False)
    assert not (tmp_path / "data" / "code-test").exists()
    assert not list((tmp_path / "data").rglob("data.zip*"))


def test_kaggle_needs_a_mirror_and_works_with_one(mirror, tmp_path, monkeypatch):
    with pytest.raises(dl.DownloadError, match="kaggle datasets download"):
        dl.download("kaggle-heartbeat", progress=False)
    native_layouts.write_kaggle_heartbeat(mirror.root / "kaggle-heartbeat")
    monkeypatch.setenv(dl.MIRROR_ENV, mirror.url)
    folder = dl.download("kaggle-heartbeat", progress=False)
    marker = json.loads((folder / dl.MARKER).read_text())
    assert marker["checksums_verified"] is False
    assert set(marker["sha256"]) == {
        "mitbih_train.csv",
        "mitbih_test.csv",
        "ptbdb_normal.csv",
        "ptbdb_abnormal.csv",
    }
    assert len(mirror.requests) == 4


def test_hand_placed_folder_is_not_overwritten_without_force(tmp_path):
    folder = tmp_path / "data" / "ptbdb"
    folder.mkdir(parents=True)
    (folder / "notes.txt").write_text("mine")
    with pytest.raises(dl.DownloadError, match="force=True"):
        dl.download("ptbdb", progress=False)
    assert (folder / "notes.txt").read_text() == "mine"


def test_status_rows_and_table(tmp_path):
    native_layouts.write_kaggle_heartbeat(tmp_path / "data" / "kaggle-heartbeat")
    rows = {row["name"]: row for row in status.status_rows()}
    assert set(rows) == set(__import__("ecglib.data", fromlist=["REGISTRY"]).REGISTRY)
    assert rows["kaggle-heartbeat"]["present"] is True and rows["kaggle-heartbeat"]["verified"] is None
    assert rows["kaggle-heartbeat"]["size_bytes"] > 0
    assert rows["ptbxl"]["present"] is False and rows["ptbxl"]["command"] == "ecglib data download ptbxl"
    assert rows["ptbxl"]["kind"] == "public"
    table = status.format_status(list(rows.values()))
    assert "ecglib data download ptbxl" in table and "kaggle-heartbeat" in table
    assert len(table.splitlines()) == len(rows) + 2


def test_plans_derive_from_registered_sources():
    plan = dl.plan_for("georgia")
    assert plan.kind == "physionet" and plan.url == "https://physionet.org/files/challenge-2020/1.0.2/"
    assert plan.include == ("training/georgia/",) and plan.strip_prefix == "training/georgia/"
    assert dl.plan_for("ptbxl").url == "https://physionet.org/files/ptb-xl/1.0.3/"
    assert dl.plan_for("ptbxl-plus").include == ("features/",)


def test_offline_sources_have_no_plan(monkeypatch):
    offline = dl.info("ptbxl").__class__(
        name="sim-x", title="t", version="1", citation="c", licence="l", homepage="h", kind="offline"
    )
    monkeypatch.setattr(dl, "info", lambda name: offline)
    with pytest.raises(ValueError, match="generated offline"):
        dl.plan_for("sim-x")


def test_chapman_plan_matches_its_registered_addresses_and_downloads_from_a_mirror(mirror, tmp_path):
    from ecglib.data import chapman

    plan = dl.plan_for("chapman")
    assert {name: url for url, name in plan.named_urls} == chapman.FIGSHARE_FILES
    (mirror.root / "chapman").mkdir()
    for _, file_name in plan.named_urls:
        if file_name.endswith(".zip"):
            write_zip(mirror.root / "chapman" / file_name, {f"{file_name[:-4]}/MUSE_1.csv": b"1,2\n"})
        else:
            (mirror.root / "chapman" / file_name).write_bytes(b"xlsx-bytes")
    folder = dl.download("chapman", base_url=f"{mirror.url}/chapman", progress=False)
    assert (folder / "ECGDataDenoised" / "MUSE_1.csv").read_bytes() == b"1,2\n"
    assert not (folder / "ECGData.zip").exists()
    marker = json.loads((folder / dl.MARKER).read_text())
    assert "(archive) ECGData.zip" in marker["sha256"] and marker["checksums_verified"] is False
    assert len(mirror.requests) == 6


def test_parse_sha256sums_rejects_garbage():
    digest = "a" * 64
    assert dl.parse_sha256sums(f"{digest} RECORDS\n{digest} *x/y.dat\n") == {
        "RECORDS": digest,
        "x/y.dat": digest,
    }
    with pytest.raises(dl.DownloadError, match="line 1"):
        dl.parse_sha256sums("not-a-digest RECORDS\n")
