"""Download public datasets into the data root, verified and never half-written.

How a download runs (:func:`download`)
--------------------------------------
1. Files go into ``<root>/<folder>.partial/``; each file is streamed to ``<file>.part``
   first (HTTPS via requests, tqdm progress bar). A ``.part`` left by an interrupted run
   is resumed with an HTTP ``Range`` request; a server that ignores Range restarts it.
2. Every file is checked: its length against ``Content-Length`` (a short body is reported
   as truncated, the ``.part`` is kept for resuming) and its digest against the source's
   published checksums (PhysioNet's ``SHA256SUMS.txt``, Zenodo's md5) or digests pinned
   in the plan. A mismatch deletes the bad file and raises :class:`ChecksumError` naming
   it. Sources that publish no checksums (OSF, mirrors of Kaggle files) are recorded as
   ``"checksums_verified": false`` with the digests seen on first download.
3. Archives (zip, tar, tar.gz) are extracted by :func:`extract_archive`, which refuses
   members that would land outside the target folder (``../``, absolute paths, links).
4. The completion marker ``.ecglib-complete.json`` (version, source, per-file SHA-256)
   is written last, then ``<folder>.partial`` is renamed to ``<folder>`` in one step.
   A folder without the marker is never reported complete by :mod:`ecglib.data.status`.

Mirrors: ``base_url=`` (or ``$ECGLIB_MIRROR``, a root holding one sub-folder per dataset
name) replaces the source's base address; the mirror serves the same relative paths
(PhysioNet: ``SHA256SUMS.txt`` and the files; Zenodo: ``api/records/<id>`` and
``api/records/<id>/files/<key>/content``; archives: their file name). Tests use this to
point the downloader at a local HTTP server.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import stat
import tarfile
import zipfile
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath

from ecglib.data import data_root, info, module
from ecglib.data.status import MARKER, has_expected_files, read_marker

MIRROR_ENV = "ECGLIB_MIRROR"
CHUNK_BYTES = 1 << 16
TIMEOUT_S = (15, 120)  # connect, read


class DownloadError(RuntimeError):
    """A download failed (HTTP error, truncated transfer, unsafe archive, no source)."""


class ChecksumError(DownloadError):
    """A downloaded file's digest differs from the published or pinned one; the message names the file."""


class UnsafeArchiveError(DownloadError):
    """An archive member would be written outside the target folder."""


@dataclass(frozen=True)
class Plan:
    """How to fetch one dataset.

    kind : ``"physionet"`` (``SHA256SUMS.txt`` + files), ``"zenodo"`` (record API),
        ``"archive"`` (one zip/tar file), ``"files"`` (listed files under ``url``) or
        ``"manual"`` (no anonymous download; ``instructions`` says how)
    url : PhysioNet project root, Zenodo API record URL, archive URL or files base URL
    include : PhysioNet path prefixes to fetch (empty = every file)
    strip_prefix : removed from PhysioNet paths when saving
    files : for ``"files"``: names relative to ``url``
    named_urls : for ``"urls"``: (address, file name) pairs, for sources whose addresses
        do not end in the file name (figshare); a mirror serves ``<base_url>/<file name>``
    sha256 : pinned digests, relative path (or archive name) -> hex
    """

    kind: str
    url: str | None = None
    include: tuple[str, ...] = ()
    strip_prefix: str = ""
    files: tuple[str, ...] = ()
    named_urls: tuple[tuple[str, str], ...] = ()
    sha256: dict[str, str] = field(default_factory=dict)
    instructions: str = ""


#: Plans that cannot be derived from ``INFO.source_urls`` alone.
PLANS: dict[str, Plan] = {
    "ptbxl-plus": Plan("physionet", "https://physionet.org/files/ptb-xl-plus/1.0.1/", include=("features/",)),
    "code-test": Plan("zenodo", "https://zenodo.org/api/records/3765780"),
    "kaggle-heartbeat": Plan(
        "files",
        None,
        files=("mitbih_train.csv", "mitbih_test.csv", "ptbdb_normal.csv", "ptbdb_abnormal.csv"),
        instructions=(
            "Kaggle needs an account: run `kaggle datasets download -d shayanfazeli/heartbeat`, unzip the four CSV "
            "files into <data root>/kaggle-heartbeat/, or pass base_url= / set $ECGLIB_MIRROR to a mirror of them."
        ),
    ),
    "deepfake": Plan("archive", "https://files.osf.io/v1/resources/6hved/providers/osfstorage/?zip="),
}

_PHYSIONET = re.compile(r"^(?P<base>https?://[^/]+/files/[^/]+/[^/]+/)(?P<sub>.*)$")
_ARCHIVE_SUFFIXES = (".zip", ".tar", ".tar.gz", ".tgz", ".tar.bz2", ".tar.xz")


def plan_for(name: str) -> Plan:
    """The download plan of registered dataset ``name`` (from :data:`PLANS` or its ``INFO``)."""
    if name in PLANS:
        return PLANS[name]
    meta = info(name)
    if meta.kind != "public":
        raise ValueError(f"{name!r} is generated offline; there is nothing to download")
    named = getattr(module(name), "FIGSHARE_FILES", None)  # file name -> address (chapman)
    if named:
        return Plan(
            "urls",
            named_urls=tuple((url, file_name) for file_name, url in named.items()),
            sha256=dict(meta.files),
        )
    if not meta.source_urls:
        return Plan("manual", instructions=f"{name}: no download address is registered; see {meta.homepage}")
    url = meta.source_urls[0]
    match = _PHYSIONET.match(url)
    if match and "physionet.org" in url:
        sub = match["sub"]
        return Plan(
            "physionet",
            match["base"],
            include=(sub,) if sub else (),
            strip_prefix=sub,
            sha256=dict(meta.files),
        )
    if "zenodo.org/api/records/" in url:
        return Plan("zenodo", url)
    if url.split("?")[0].lower().endswith(_ARCHIVE_SUFFIXES):
        return Plan("archive", url, sha256=dict(meta.files))
    return Plan(
        "manual", url, instructions=f"{name}: download {url} by hand into the data root (see {meta.homepage})"
    )


# --------------------------------------------------------------------------- single files
def _session():
    import requests

    session = requests.Session()
    session.headers["User-Agent"] = "ecglib-downloader"
    return session


def file_digests(path: Path) -> tuple[str, str]:
    """(SHA-256, MD5) hex digests of a file, read in chunks."""
    sha256, md5 = hashlib.sha256(), hashlib.md5()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            sha256.update(chunk)
            md5.update(chunk)
    return sha256.hexdigest(), md5.hexdigest()


def fetch(
    url: str,
    dest: Path,
    *,
    session=None,
    sha256: str | None = None,
    md5: str | None = None,
    progress: bool = True,
) -> str:
    """Stream ``url`` to ``dest`` (via ``dest.part``, resuming it), verify it, return its SHA-256.

    Raises
    ------
    DownloadError : HTTP error, or fewer bytes than ``Content-Length`` (``.part`` kept for resume)
    ChecksumError : digest differs from ``sha256``/``md5`` (the file is deleted)
    """
    import requests
    from tqdm.auto import tqdm

    session = session or _session()
    dest.parent.mkdir(parents=True, exist_ok=True)
    part = dest.with_name(dest.name + ".part")
    offset = part.stat().st_size if part.exists() else 0
    headers = {"Range": f"bytes={offset}-"} if offset else {}
    expected_total = None
    try:
        with session.get(url, stream=True, headers=headers, timeout=TIMEOUT_S) as response:
            if response.status_code == 416 and offset:
                # The .part already holds everything the server has: verify it below.
                expected_total = offset
            else:
                if response.status_code == 206 and offset:
                    content_range = response.headers.get("Content-Range", "")
                    if not content_range.startswith(f"bytes {offset}-"):
                        raise DownloadError(f"{url}: server answered Range {offset}- with {content_range!r}")
                    mode = "ab"
                elif response.status_code == 200:
                    offset, mode = 0, "wb"  # the server ignored Range: start again
                else:
                    raise DownloadError(f"{url}: HTTP {response.status_code} {response.reason}")
                length = response.headers.get("Content-Length")
                expected_total = offset + int(length) if length is not None else None
                with (
                    open(part, mode) as handle,
                    tqdm(
                        total=expected_total,
                        initial=offset,
                        unit="B",
                        unit_scale=True,
                        desc=dest.name,
                        disable=not progress,
                        leave=False,
                    ) as bar,
                ):
                    for chunk in response.iter_content(CHUNK_BYTES):
                        handle.write(chunk)
                        bar.update(len(chunk))
    except requests.RequestException as exc:
        got = part.stat().st_size if part.exists() else 0
        raise DownloadError(
            f"{dest.name}: transfer from {url} interrupted after {got} bytes ({type(exc).__name__}); "
            f"run the download again to resume from {part}"
        ) from None
    got = part.stat().st_size
    if expected_total is not None and got != expected_total:
        raise DownloadError(
            f"{dest.name}: truncated download from {url}: {got} of {expected_total} bytes; run again to resume from {part}"
        )
    digest_sha256, digest_md5 = file_digests(part)
    for kind, expected, actual in (("SHA-256", sha256, digest_sha256), ("MD5", md5, digest_md5)):
        if expected is not None and expected.lower() != actual:
            part.unlink()
            raise ChecksumError(
                f"{dest.name}: {kind} {actual} differs from the published {expected.lower()} ({url}); file deleted"
            )
    os.replace(part, dest)
    return digest_sha256


# --------------------------------------------------------------------------- archives
def _safe_target(base: Path, member_name: str) -> Path:
    """Where ``member_name`` lands under ``base``; raises UnsafeArchiveError if outside it."""
    pure = PurePosixPath(member_name.replace("\\", "/"))
    if pure.is_absolute() or re.match(r"^[A-Za-z]:", member_name) or ".." in pure.parts:
        raise UnsafeArchiveError(
            f"archive member {member_name!r} would be written outside {base}; refusing to extract"
        )
    target = (base / pure).resolve()
    if target != base.resolve() and base.resolve() not in target.parents:
        raise UnsafeArchiveError(
            f"archive member {member_name!r} resolves outside {base}; refusing to extract"
        )
    return target


def extract_archive(archive: Path, dest: Path) -> list[str]:
    """Extract a zip or tar archive into ``dest``; return the relative paths of the files written.

    Every member is checked before anything is written: absolute paths, ``..`` parts,
    symbolic or hard links (in tar, links to inside the folder are allowed), devices and
    FIFOs raise :class:`UnsafeArchiveError`.
    """
    dest.mkdir(parents=True, exist_ok=True)
    written: list[str] = []
    if zipfile.is_zipfile(archive):
        with zipfile.ZipFile(archive) as handle:
            members = handle.infolist()
            for member in members:
                _safe_target(dest, member.filename)
                mode = member.external_attr >> 16
                if stat.S_ISLNK(mode):
                    raise UnsafeArchiveError(
                        f"{archive.name}: member {member.filename!r} is a symbolic link; refusing to extract"
                    )
            for member in members:
                target = _safe_target(dest, member.filename)
                if member.is_dir():
                    target.mkdir(parents=True, exist_ok=True)
                    continue
                target.parent.mkdir(parents=True, exist_ok=True)
                with handle.open(member) as source, open(target, "wb") as sink:
                    shutil.copyfileobj(source, sink)
                written.append(target.relative_to(dest.resolve()).as_posix())
        return written
    if tarfile.is_tarfile(archive):
        with tarfile.open(archive) as handle:
            members = handle.getmembers()
            for member in members:
                target = _safe_target(dest, member.name)
                if member.issym() or member.islnk():
                    link_base = target.parent if member.issym() else dest
                    _safe_target(
                        dest, os.path.relpath((link_base / member.linkname).resolve(), dest.resolve())
                    )
                elif not (member.isfile() or member.isdir()):
                    raise UnsafeArchiveError(
                        f"{archive.name}: member {member.name!r} is a device or FIFO; refusing to extract"
                    )
            handle.extractall(dest, filter="data")
            written = [
                _safe_target(dest, member.name).relative_to(dest.resolve()).as_posix()
                for member in members
                if member.isfile()
            ]
        return written
    raise DownloadError(f"{archive}: not a zip or tar archive")


def _is_archive(name: str) -> bool:
    return name.lower().endswith(_ARCHIVE_SUFFIXES)


# --------------------------------------------------------------------------- plans
def parse_sha256sums(text: str) -> dict[str, str]:
    """``SHA256SUMS.txt`` lines ``<hex> <path>`` (sha256sum format) -> {path: hex}."""
    digests = {}
    for line_number, line in enumerate(text.splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        parts = line.split(maxsplit=1)
        if len(parts) != 2 or not re.fullmatch(r"[0-9a-fA-F]{64}", parts[0]):
            raise DownloadError(f"SHA256SUMS.txt line {line_number} is not '<sha256> <path>': {line!r}")
        digests[parts[1].strip().lstrip("*")] = parts[0].lower()
    return digests


def _get_text(session, url: str) -> str:
    import requests

    try:
        response = session.get(url, timeout=TIMEOUT_S)
    except requests.RequestException as exc:
        raise DownloadError(f"{url}: {type(exc).__name__}: {exc}") from None
    if response.status_code != 200:
        raise DownloadError(f"{url}: HTTP {response.status_code} {response.reason}")
    return response.text


def _run_physionet(plan: Plan, base: str, partial: Path, session, progress: bool) -> dict[str, str]:
    published = parse_sha256sums(_get_text(session, base + "SHA256SUMS.txt"))
    wanted = {
        path: digest
        for path, digest in published.items()
        if not plan.include or path.startswith(plan.include)
    }
    if not wanted:
        raise DownloadError(f"{base}SHA256SUMS.txt lists no file under {plan.include}")
    digests = {}
    for path, digest in sorted(wanted.items()):
        relative = (
            path[len(plan.strip_prefix) :]
            if plan.strip_prefix and path.startswith(plan.strip_prefix)
            else path
        )
        dest = _safe_target(partial, relative)
        if dest.exists() and file_digests(dest)[0] == digest:
            digests[relative] = digest  # kept from an earlier, interrupted run
            continue
        digests[relative] = fetch(base + path, dest, session=session, sha256=digest, progress=progress)
    return digests


def _extract_into(archive: Path, partial: Path, digests: dict[str, str]) -> None:
    for relative in extract_archive(archive, partial):
        digests[relative] = file_digests(partial / relative)[0]
    archive.unlink()


def _run_zenodo(plan: Plan, base: str | None, partial: Path, session, progress: bool) -> dict[str, str]:
    record_id = plan.url.rstrip("/").rsplit("/", 1)[-1]
    api = f"{base.rstrip('/')}/api/records/{record_id}" if base else plan.url
    try:
        record = json.loads(_get_text(session, api))
        entries = record["files"]
        entries = entries["entries"].values() if isinstance(entries, dict) else entries
    except (json.JSONDecodeError, KeyError, AttributeError):
        raise DownloadError(f"{api}: not a Zenodo record description") from None
    digests: dict[str, str] = {}
    for entry in entries:
        key = entry["key"]
        checksum = entry.get("checksum", "")
        md5 = checksum.split(":", 1)[1] if checksum.startswith("md5:") else None
        if base:
            url = f"{base.rstrip('/')}/api/records/{record_id}/files/{key}/content"
        else:
            links = entry.get("links", {})
            url = links.get("content") or links.get("self") or f"{plan.url}/files/{key}/content"
        dest = _safe_target(partial, key)
        digests[key] = fetch(
            url, dest, session=session, md5=md5, sha256=plan.sha256.get(key), progress=progress
        )
        if _is_archive(key):
            digests[f"(archive) {key}"] = digests.pop(key)
            _extract_into(dest, partial, digests)
    return digests


def _run_archive(plan: Plan, base: str | None, partial: Path, session, progress: bool) -> dict[str, str]:
    source_name = PurePosixPath(plan.url.split("?")[0]).name or "archive"
    url = (
        base.rstrip("/") + "/" + (source_name if _is_archive(source_name) else "archive.zip")
        if base
        else plan.url
    )
    name = source_name if _is_archive(source_name) else "archive.zip"
    dest = partial / ".download" / name
    digest = fetch(url, dest, session=session, sha256=plan.sha256.get(name), progress=progress)
    digests = {f"(archive) {name}": digest}
    _extract_into(dest, partial, digests)
    shutil.rmtree(partial / ".download", ignore_errors=True)
    return digests


def _run_files(plan: Plan, base: str | None, partial: Path, session, progress: bool) -> dict[str, str]:
    if not base:
        raise DownloadError(plan.instructions)
    digests = {}
    for relative in plan.files:
        digests[relative] = fetch(
            base.rstrip("/") + "/" + relative,
            _safe_target(partial, relative),
            session=session,
            sha256=plan.sha256.get(relative),
            progress=progress,
        )
    return digests


def _run_urls(plan: Plan, base: str | None, partial: Path, session, progress: bool) -> dict[str, str]:
    digests: dict[str, str] = {}
    for url, file_name in plan.named_urls:
        source = base.rstrip("/") + "/" + file_name if base else url
        dest = _safe_target(partial, file_name)
        digests[file_name] = fetch(
            source, dest, session=session, sha256=plan.sha256.get(file_name), progress=progress
        )
        if _is_archive(file_name):
            digests[f"(archive) {file_name}"] = digests.pop(file_name)
            _extract_into(dest, partial, digests)
    return digests


# --------------------------------------------------------------------------- datasets
def _write_json_atomic(path: Path, payload: dict) -> None:
    temporary = path.with_name(path.name + ".tmp")
    temporary.write_text(json.dumps(payload, indent=1, sort_keys=True))
    os.replace(temporary, path)


def _resolve_base(name: str, plan: Plan, base_url: str | None) -> str | None:
    if base_url is None and os.environ.get(MIRROR_ENV):
        base_url = os.environ[MIRROR_ENV].rstrip("/") + f"/{name}/"
    if base_url is None:
        return plan.url if plan.kind == "physionet" else None
    return base_url if base_url.endswith("/") else base_url + "/"


def download(
    name: str,
    root: str | os.PathLike | None = None,
    *,
    base_url: str | None = None,
    force: bool = False,
    progress: bool = True,
    session=None,
) -> Path:
    """Download registered public dataset ``name`` into ``<data root>/<folder>`` and return that path.

    Parameters
    ----------
    root : data root (default ``$ECGLIB_DATA`` or ``~/ecglib_data``)
    base_url : mirror serving the source's relative paths (default ``$ECGLIB_MIRROR/<name>/``)
    force : replace a complete copy
    progress : show tqdm progress bars

    A folder already holding the completion marker is returned untouched unless ``force``.
    A folder with files but no marker (placed by hand) is also left alone unless ``force``.
    """
    meta = info(name)
    if meta.kind != "public" or meta.folder is None:
        raise ValueError(f"{name!r} is generated offline; there is nothing to download")
    final = data_root(root) / meta.folder
    if not force and read_marker(final) is not None:
        return final
    if not force and final.is_dir() and has_expected_files(name, final):
        return final
    if not force and final.is_dir() and any(final.iterdir()):
        raise DownloadError(f"{final} exists without a completion marker; pass force=True to replace it")
    plan = plan_for(name)
    if plan.kind == "manual":
        raise DownloadError(plan.instructions)
    base = _resolve_base(name, plan, base_url)
    partial = final.with_name(final.name + ".partial")
    partial.mkdir(parents=True, exist_ok=True)
    stale_marker = partial / MARKER
    if stale_marker.exists():
        stale_marker.unlink()
    session = session or _session()
    runners = {
        "physionet": _run_physionet,
        "zenodo": _run_zenodo,
        "archive": _run_archive,
        "files": _run_files,
        "urls": _run_urls,
    }
    digests = runners[plan.kind](plan, base, partial, session, progress)
    verified_by = {
        "physionet": "PhysioNet SHA256SUMS.txt",
        "zenodo": "Zenodo md5 checksums",
    }.get(plan.kind, "pinned SHA-256" if plan.sha256 else None)
    size_bytes = sum(path.stat().st_size for path in partial.rglob("*") if path.is_file())
    _write_json_atomic(
        partial / MARKER,
        {
            "name": name,
            "version": meta.version,
            "source": base or plan.url,
            "kind": plan.kind,
            "completed_utc": datetime.now(UTC).isoformat(timespec="seconds"),
            "checksums_verified": verified_by is not None,
            "verified_against": verified_by or "nothing published: digests recorded on first download",
            "sha256": digests,
            "size_bytes": size_bytes,
        },
    )
    if final.exists():
        old = final.with_name(final.name + ".old")
        shutil.rmtree(old, ignore_errors=True)
        os.replace(final, old)
        os.replace(partial, final)
        shutil.rmtree(old, ignore_errors=True)
    else:
        final.parent.mkdir(parents=True, exist_ok=True)
        os.replace(partial, final)
    return final
