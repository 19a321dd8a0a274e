"""Bundles: made, signed, verified and installed atomically; anything tampered or unsafe is refused."""

from __future__ import annotations

import io
import os
import tarfile
from pathlib import Path

import numpy as np
import pytest

from edge_service.manifest import load_artefact
from edge_service.bundles import install_bundle, rollback
from edge_service.errors import BundleError
from firmware_export.bundle import generate_key, make_bundle

pytest.importorskip("cryptography")


@pytest.fixture
def keys(tmp_path):
    generate_key(tmp_path / "k.key", tmp_path / "k.pub")
    generate_key(tmp_path / "other.key", tmp_path / "other.pub")
    return tmp_path


def _rewrite(source: Path, target: Path, change) -> None:
    """Copies a bundle member by member through `change(name, data) -> [(name, data, kind)]`."""
    with tarfile.open(source) as tar:
        members = [(m.name, tar.extractfile(m).read()) for m in tar]
    with tarfile.open(target, "w:gz") as out:
        for name, data in members:
            for new_name, new_data, kind in change(name, data):
                info = tarfile.TarInfo(new_name)
                if kind == "symlink":
                    info.type, info.linkname = tarfile.SYMTYPE, new_data.decode()
                    out.addfile(info)
                else:
                    info.size = len(new_data)
                    out.addfile(info, io.BytesIO(new_data))


def _state(model_dir: Path) -> dict:
    return {str(p.relative_to(model_dir)): (os.readlink(p) if p.is_symlink() else p.stat().st_size)
            for p in sorted(model_dir.rglob("*"))} if model_dir.exists() else {}


def test_signed_bundle_installs_and_the_service_can_load_it(shipped_model, keys, tmp_path):
    info = make_bundle(shipped_model, tmp_path / "b.tar.gz", keys / "k.key")
    assert info["signed"] and set(info["files"]) == {"model.tflite", "manifest.json", "labels.txt", "bundle.json",
                                                    "conversion.tflite", "model_float.tflite",
                                                    "SHA256SUMS", "SHA256SUMS.sig"}
    done = install_bundle(tmp_path / "b.tar.gz", tmp_path / "models", keys / "k.pub")
    installed = load_artefact(tmp_path / "models" / "fashion-mnist-seed")
    assert installed.manifest.model_sha256 == load_artefact(shipped_model).manifest.model_sha256
    from edge_service.fullres import ConversionLayers
    assert ConversionLayers(installed)(np.zeros((30, 40, 3), np.uint8)).shape[:2] == (30, 40)
    assert done["previous"] is None and done["signed"]


def test_a_new_install_keeps_the_previous_for_rollback(shipped_model, tmp_path):
    make_bundle(shipped_model, tmp_path / "a.tar.gz")
    install_bundle(tmp_path / "a.tar.gz", tmp_path / "models")
    first = os.readlink(tmp_path / "models" / "fashion-mnist-seed" / "current")
    # A retrained model under the same name: same manifest name, other weights.
    other = tmp_path / "other"
    import shutil
    shutil.copytree(shipped_model, other)
    import json
    from edge_service.manifest import sha256_of
    data = bytearray((other / "model.tflite").read_bytes())
    data[-40] ^= 1
    (other / "model.tflite").write_bytes(bytes(data))
    manifest = json.loads((other / "manifest.json").read_text())
    manifest["model_sha256"] = sha256_of(bytes(data))
    (other / "manifest.json").write_text(json.dumps(manifest))
    make_bundle(other, tmp_path / "b.tar.gz")
    done = install_bundle(tmp_path / "b.tar.gz", tmp_path / "models")
    assert done["previous"] == first and os.readlink(tmp_path / "models" / "fashion-mnist-seed" / "current") != first
    back = rollback(tmp_path / "models", "fashion-mnist-seed")
    assert back["current"] == first
    assert load_artefact(tmp_path / "models" / "fashion-mnist-seed").manifest.model_sha256 == \
        load_artefact(shipped_model).manifest.model_sha256


@pytest.mark.parametrize("attack, message", [
    ("tamper", "does not match SHA256SUMS"),
    ("wrong_signature", "signature does not verify"),
    ("unsigned", "not signed"),
    ("dotdot", "not a plain file name"),
    ("absolute", "not a plain file name"),
    ("subdir", "not a plain file name"),
    ("symlink", "is a link"),
    ("extra_file", "lists"),
    ("truncated", "corrupt or truncated|not a readable bundle"),
])
def test_unsafe_or_tampered_bundles_are_refused_and_change_nothing(shipped_model, keys, tmp_path, attack, message):
    good = tmp_path / "good.tar.gz"
    make_bundle(shipped_model, good, keys / "k.key")
    models = tmp_path / "models"
    install_bundle(good, models, keys / "k.pub")
    before = _state(models)
    bad = tmp_path / "bad.tar.gz"
    if attack == "tamper":
        _rewrite(good, bad, lambda n, d: [(n, d[:-1] + bytes([d[-1] ^ 1]) if n == "model.tflite" else d, "file")])
    elif attack == "wrong_signature":
        make_bundle(shipped_model, bad, keys / "other.key")
    elif attack == "unsigned":
        make_bundle(shipped_model, bad)
    elif attack == "dotdot":
        _rewrite(good, bad, lambda n, d: [(n, d, "file")] + ([("../evil.sh", b"rm -rf /", "file")] if n == "bundle.json" else []))
    elif attack == "absolute":
        _rewrite(good, bad, lambda n, d: [("/etc/cron.d/evil" if n == "labels.txt" else n, d, "file")])
    elif attack == "subdir":
        _rewrite(good, bad, lambda n, d: [("x/" + n if n == "labels.txt" else n, d, "file")])
    elif attack == "symlink":
        _rewrite(good, bad, lambda n, d: [(n, d, "file")] + ([("passwd", b"/etc/passwd", "symlink")] if n == "bundle.json" else []))
    elif attack == "extra_file":
        _rewrite(good, bad, lambda n, d: [(n, d, "file")] + ([("payload.sh", b"echo hi", "file")] if n == "bundle.json" else []))
    elif attack == "truncated":
        data = good.read_bytes()
        bad.write_bytes(data[: len(data) // 2])
    with pytest.raises(BundleError, match=message):
        install_bundle(bad, models, keys / "k.pub")
    assert _state(models) == before
    assert not (tmp_path / "evil.sh").exists()


def test_cli_install_and_rollback(shipped_model, tmp_path):
    from click.testing import CliRunner
    from unseen.cli import main
    runner = CliRunner()
    made = runner.invoke(main, ["export", "bundle", "--model", str(shipped_model), "-o", str(tmp_path / "b.tar.gz")])
    assert made.exit_code == 0, made.output
    result = runner.invoke(main, ["install", str(tmp_path / "b.tar.gz"), "--model-dir", str(tmp_path / "m")])
    assert result.exit_code == 0 and "installed fashion-mnist-seed" in result.output
    again = runner.invoke(main, ["install", str(tmp_path / "b.tar.gz"), "--model-dir", str(tmp_path / "m")])
    assert again.exit_code == 0 and "already the current one" in again.output and "previous" not in again.output
    refused = runner.invoke(main, ["rollback", "fashion-mnist-seed", "--model-dir", str(tmp_path / "m")])
    assert refused.exit_code == 2 and "no previous version" in refused.output
    unknown = runner.invoke(main, ["rollback", "nosuch", "--model-dir", str(tmp_path / "m")])
    assert unknown.exit_code == 2 and "no model named 'nosuch' is installed" in unknown.output
    assert "installed: fashion-mnist-seed" in unknown.output


def test_keygen_refuses_to_overwrite_a_key_pair_without_force(tmp_path):
    from click.testing import CliRunner
    from unseen.cli import main
    runner = CliRunner()
    assert runner.invoke(main, ["export", "keygen", "-o", str(tmp_path / "signing")]).exit_code == 0
    public = (tmp_path / "signing.pub").read_bytes()
    refused = runner.invoke(main, ["export", "keygen", "-o", str(tmp_path / "signing")])
    assert refused.exit_code == 2 and "already exist" in refused.output and "--force" in refused.output
    assert (tmp_path / "signing.pub").read_bytes() == public
    forced = runner.invoke(main, ["export", "keygen", "-o", str(tmp_path / "signing"), "--force"])
    assert forced.exit_code == 0 and (tmp_path / "signing.pub").read_bytes() != public


def _unparseable_copy(shipped_model: Path, folder: Path) -> Path:
    """The shipped model cut short, its manifest's hash updated: it passes the hash check, not the parser."""
    import json
    import shutil
    from edge_service.manifest import sha256_of
    shutil.copytree(shipped_model, folder)
    data = (folder / "model.tflite").read_bytes()[:20000]
    (folder / "model.tflite").write_bytes(data)
    manifest = json.loads((folder / "manifest.json").read_text())
    manifest["model_sha256"] = sha256_of(data)
    (folder / "manifest.json").write_text(json.dumps(manifest))
    return folder


def test_a_model_that_does_not_parse_is_neither_bundled_nor_installed(shipped_model, tmp_path, monkeypatch):
    broken = _unparseable_copy(shipped_model, tmp_path / "broken")
    with pytest.raises(BundleError, match="model.tflite: corrupt TFLite flatbuffer"):
        make_bundle(broken, tmp_path / "b.tar.gz")
    assert not (tmp_path / "b.tar.gz").exists()
    models = tmp_path / "models"
    make_bundle(shipped_model, tmp_path / "good.tar.gz")
    install_bundle(tmp_path / "good.tar.gz", models)
    before = _state(models)
    # A bundle made elsewhere (here: with the maker's own check switched off) must still be refused.
    monkeypatch.setattr("firmware_export.bundle.read_graph", lambda data: None)
    monkeypatch.setattr("firmware_export.bundle.graph_problem", lambda manifest, graph: None)
    make_bundle(broken, tmp_path / "b.tar.gz")
    with pytest.raises(BundleError, match="fails its check: corrupt TFLite flatbuffer"):
        install_bundle(tmp_path / "b.tar.gz", models)
    assert _state(models) == before


def test_a_manifest_that_misdescribes_its_model_is_not_bundled(shipped_model, tmp_path):
    """Two layers' output_index swapped: each field is well formed, only the model can tell."""
    import json
    import shutil
    shutil.copytree(shipped_model, tmp_path / "swapped")
    manifest = json.loads((tmp_path / "swapped" / "manifest.json").read_text())
    first, second = manifest["layers"][1], manifest["layers"][2]
    first["output_index"], second["output_index"] = second["output_index"], first["output_index"]
    (tmp_path / "swapped" / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(BundleError, match="does not describe its model: manifest layer 'pool1' \\(output 1\\)"):
        make_bundle(tmp_path / "swapped", tmp_path / "b.tar.gz")
    assert not (tmp_path / "b.tar.gz").exists()
