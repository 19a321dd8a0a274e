"""Installing an offline bundle on a device, safely; made by `unseen export bundle`.

A bundle is a flat .tar.gz: model.tflite, manifest.json, labels.txt, bundle.json, a
SHA256SUMS list of every other file, and optionally SHA256SUMS.sig, an Ed25519
signature of that list made with a key the user holds.

Installing never trusts the archive: members must be plain files with plain names
(no paths, links or devices), sizes are bounded, every hash must match, the signature
must verify when a public key is configured, and the manifest must match the model.
Only then is the model moved into place:

    <model_dir>/<name>/versions/<sha12>/   the files
    <model_dir>/<name>/current  -> versions/<sha12>    (swapped atomically)
    <model_dir>/<name>/previous -> the version before, for `unseen rollback`
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import tarfile
import tempfile
import zlib
from pathlib import Path

from edge_service.errors import BundleError, ModelError
from edge_service.manifest import MANIFEST_FILE, load_artefact
from edge_service.manifest_checks import graph_problem
from edge_service.tflite_graph import read_graph

FORMAT = "unseen-bundle/1"
SUMS, SIGNATURE, INFO = "SHA256SUMS", "SHA256SUMS.sig", "bundle.json"
ALLOWED_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")
MAX_MEMBERS = 32
MAX_MEMBER_BYTES = 256 << 20
MAX_TOTAL_BYTES = 512 << 20


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def load_key(path: Path, private: bool):
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
    try:
        data = Path(path).read_bytes()
        key = (serialization.load_pem_private_key(data, password=None) if private
               else serialization.load_pem_public_key(data))
    except (OSError, ValueError, TypeError) as exc:
        raise BundleError(f"{path}: not a readable Ed25519 {'private' if private else 'public'} key ({exc})") from None
    expected = Ed25519PrivateKey if private else Ed25519PublicKey
    if not isinstance(key, expected):
        raise BundleError(f"{path}: the key is not Ed25519")
    return key


def read_bundle(path: Path) -> dict[str, bytes]:
    """The members of a bundle as bytes, refusing anything but plain, bounded, plainly named files."""
    try:
        tar = tarfile.open(path, "r:*")
    except (OSError, tarfile.TarError, EOFError) as exc:
        raise BundleError(f"{path}: not a readable bundle ({exc})") from None
    files: dict[str, bytes] = {}
    total = 0
    with tar:
        try:
            for count, member in enumerate(tar, 1):
                if count > MAX_MEMBERS:
                    raise BundleError(f"{path}: more than {MAX_MEMBERS} members")
                if not member.isreg():
                    kind = "link" if member.issym() or member.islnk() else "directory" if member.isdir() else "special file"
                    raise BundleError(f"{path}: member {member.name!r} is a {kind}; bundles hold plain files only")
                if not ALLOWED_NAME.match(member.name) or member.name in files:
                    raise BundleError(f"{path}: member name {member.name!r} is not a plain file name "
                                      f"(no paths, no '..', no duplicates)")
                if member.size > MAX_MEMBER_BYTES or total + member.size > MAX_TOTAL_BYTES:
                    raise BundleError(f"{path}: member {member.name!r} is too large")
                handle = tar.extractfile(member)
                data = handle.read(member.size + 1) if handle else b""
                if len(data) != member.size:
                    raise BundleError(f"{path}: member {member.name!r} is truncated")
                files[member.name] = data
                total += member.size
        except (tarfile.TarError, EOFError, OSError, zlib.error) as exc:
            raise BundleError(f"{path}: corrupt or truncated archive ({exc})") from None
    return files


def verify_bundle(files: dict[str, bytes], public_key: Path | None) -> dict:
    """Checks hashes, the signature and the manifest; returns bundle.json's content."""
    if SUMS not in files:
        raise BundleError(f"the bundle has no {SUMS}")
    listed: dict[str, str] = {}
    for line in files[SUMS].decode("utf-8", "replace").splitlines():
        match = re.fullmatch(r"([0-9a-f]{64})  (\S+)", line)
        if not match:
            raise BundleError(f"{SUMS}: malformed line {line!r}")
        listed[match.group(2)] = match.group(1)
    present = set(files) - {SUMS, SIGNATURE}
    if set(listed) != present:
        raise BundleError(f"{SUMS} lists {sorted(listed)} but the bundle holds {sorted(present)}")
    for name, expected in listed.items():
        if sha256_hex(files[name]) != expected:
            raise BundleError(f"{name}: SHA-256 does not match {SUMS}; the bundle was changed")
    if public_key is not None:
        if SIGNATURE not in files:
            raise BundleError("the bundle is not signed, and a public key is configured")
        from cryptography.exceptions import InvalidSignature
        try:
            load_key(public_key, private=False).verify(files[SIGNATURE], files[SUMS])
        except InvalidSignature:
            raise BundleError("the bundle's signature does not verify with the configured public key") from None
    try:
        info = json.loads(files[INFO])
    except (KeyError, ValueError):
        raise BundleError(f"the bundle has no readable {INFO}") from None
    if info.get("format") != FORMAT or not ALLOWED_NAME.match(str(info.get("name", ""))):
        raise BundleError(f"{INFO}: not an {FORMAT} bundle, or a bad model name")
    for required in ("model.tflite", MANIFEST_FILE):
        if required not in files:
            raise BundleError(f"the bundle has no {required}")
    return info


def _point(link: Path, target: str) -> None:
    """Makes `link` point at `target`, atomically (a new link renamed over the old one)."""
    tmp = link.with_name(f".{link.name}.{os.getpid()}")
    if tmp.is_symlink() or tmp.exists():
        tmp.unlink()
    tmp.symlink_to(target)
    os.replace(tmp, link)


def install_bundle(bundle: Path, model_dir: Path, public_key: Path | None = None) -> dict:
    """Verifies and installs; on any problem nothing in `model_dir` changes."""
    files = read_bundle(bundle)
    info = verify_bundle(files, public_key)
    home = Path(model_dir) / info["name"]
    versions = home / "versions"
    try:
        versions.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=".staging-", dir=versions))
    except OSError as exc:
        raise BundleError(f"cannot write to {model_dir}: {exc.strerror}") from None
    try:
        for name, data in files.items():
            (staging / name).write_bytes(data)
        try:
            artefact = load_artefact(staging)  # the manifest's own hash check, on the staged copy
            # A model that cannot be parsed, or that its manifest misdescribes, must never become current.
            problem = graph_problem(artefact.manifest, read_graph(artefact.model_bytes))
            if problem:
                raise ModelError(problem)
        except ModelError as exc:
            raise BundleError(f"the bundled model fails its check: {exc}") from None
        version = artefact.manifest.model_sha256[:12]
        target = versions / version
        if target.exists():
            shutil.rmtree(staging)
        else:
            os.replace(staging, target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    current = home / "current"
    old = os.readlink(current) if current.is_symlink() else None
    already = old == f"versions/{version}"
    if not already:
        if old is not None:
            _point(home / "previous", old)
        _point(current, f"versions/{version}")
    previous = home / "previous"
    return {"name": info["name"], "version": version, "path": str(current), "already_installed": already,
            "previous": os.readlink(previous) if previous.is_symlink() else None, "signed": SIGNATURE in files}


def rollback(model_dir: Path, name: str) -> dict:
    """Swaps `current` and `previous`."""
    home = Path(model_dir) / name
    current, previous = home / "current", home / "previous"
    if not current.is_symlink():
        installed = sorted(p.name for p in Path(model_dir).iterdir() if (p / "current").is_symlink()) \
            if Path(model_dir).is_dir() else []
        raise BundleError(f"no model named {name!r} is installed in {model_dir}"
                          + (f" (installed: {', '.join(installed)})" if installed else ""))
    if not previous.is_symlink():
        raise BundleError(f"{name}: there is no previous version to roll back to")
    now, before = os.readlink(current), os.readlink(previous)
    _point(current, before)
    _point(previous, now)
    return {"name": name, "current": before, "previous": now}
