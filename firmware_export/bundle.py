"""Making offline deployment bundles and their signing keys (the device installs them: edge_service.bundles)."""

from __future__ import annotations

import datetime as dt
import io
import json
import os
import re
import tarfile
from pathlib import Path

from edge_service.bundles import FORMAT, INFO, SIGNATURE, SUMS, load_key, sha256_hex
from edge_service.errors import BundleError, ModelError
from edge_service.manifest import MANIFEST_FILE, load_artefact, read_checked
from edge_service.manifest_checks import graph_problem
from edge_service.tflite_graph import read_graph
from firmware_export.errors import ExportError


def generate_key(private_path: Path, public_path: Path, force: bool = False) -> None:
    """A new Ed25519 key pair as PEM files (the private one readable by its owner only).

    An existing pair is kept unless `force`: replacing it orphans every device holding the old public key.
    """
    existing = [str(p) for p in (private_path, public_path) if p.exists()]
    if existing and not force:
        raise ExportError(f"{' and '.join(existing)} already exist; replacing them orphans every device that "
                          f"holds the old public key (use --force if that is what you want)")
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
    key = Ed25519PrivateKey.generate()
    private_path.parent.mkdir(parents=True, exist_ok=True)
    private_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                               serialization.NoEncryption()))
    os.chmod(private_path, 0o600)
    public_path.write_bytes(key.public_key().public_bytes(serialization.Encoding.PEM,
                                                          serialization.PublicFormat.SubjectPublicKeyInfo))


def make_bundle(model: Path, output: Path, sign_key: Path | None = None) -> dict:
    """Writes the bundle; returns its description (name, model hash, files, signed)."""
    artefact = load_artefact(model)
    try:  # a bundle a device would refuse is refused here, before it ships
        problem = graph_problem(artefact.manifest, read_graph(artefact.model_bytes))
    except ModelError as exc:
        raise BundleError(f"{artefact.model_path}: {exc}") from None
    if problem:
        raise BundleError(f"{artefact.folder}: the manifest does not describe its model: {problem}")
    manifest = artefact.manifest
    files = {"model.tflite": artefact.model_bytes,
             MANIFEST_FILE: (artefact.folder / MANIFEST_FILE).read_bytes(),
             "labels.txt": ("\n".join(manifest.labels) + "\n").encode()}
    if manifest.model_file != "model.tflite":
        raise BundleError(f"the manifest names {manifest.model_file!r}; bundles carry model.tflite")
    for entry in (manifest.conversion_model, manifest.float_model):  # the files beside it, hash checked
        if entry:
            files[entry["file"]] = read_checked(artefact.folder, entry, entry["file"])
    info = {"format": FORMAT, "name": _bundle_name(manifest.name), "model_sha256": manifest.model_sha256,
            "created": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")}
    files[INFO] = json.dumps(info, indent=1).encode()
    sums = "".join(f"{sha256_hex(data)}  {name}\n" for name, data in sorted(files.items())).encode()
    files[SUMS] = sums
    if sign_key is not None:
        files[SIGNATURE] = load_key(sign_key, private=True).sign(sums)
    output.parent.mkdir(parents=True, exist_ok=True)
    with tarfile.open(output, "w:gz") as tar:
        for name, data in files.items():
            member = tarfile.TarInfo(name)
            member.size, member.mode, member.mtime = len(data), 0o644, int(dt.datetime.now().timestamp())
            tar.addfile(member, io.BytesIO(data))
    return dict(info, files=sorted(files), signed=sign_key is not None)


def _bundle_name(name: str) -> str:
    clean = re.sub(r"[^A-Za-z0-9._-]", "-", name).strip("-.") or "model"
    return clean[:64]


