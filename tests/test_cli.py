"""The `unseen` command: fast help, one clear line per user error."""

import re
import subprocess
import sys

import pytest
from click.testing import CliRunner

from unseen.cli import main


def test_help_does_not_import_tensorflow():
    code = ("import sys; from click.testing import CliRunner; from unseen.cli import main; "
            "r = CliRunner().invoke(main, ['--help']); assert r.exit_code == 0; "
            "assert 'tensorflow' not in sys.modules and 'training.train' not in sys.modules; print('ok')")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.stdout.strip() == "ok", out.stderr


@pytest.mark.parametrize("args, message", [
    (["inspect", "--model", "/no/such/model.tflite"], "cannot read"),
    (["convert", "apply", "/no/matrix.json", "x.png"], "conversion matrix /no/matrix.json does not exist"),
    (["train", "--dataset", "/no/such/data"], "nor an existing path"),
    (["collect", "--nats", "nats://127.0.0.1:4222,garbage"], "'garbage': write nats://host:port"),
    (["collect", "--prefix", "site/#"], "'site/#' must not contain the MQTT wildcards"),
    (["collect", "--mqtt-host", "n1,n2"], "a collector reads from one broker"),
    (["collect", "--mqtt-host", "a..b"], "'a..b' is not a host name"),
    (["serve", "--mqtt-host", "a..b,127.0.0.1"], "'a..b' is not a host name"),
])
def test_user_errors_are_one_line_and_exit_2(args, message):
    if args[0] == "train":
        pytest.importorskip("tensorflow")
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 2
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:") and message in lines[0]


def test_inspect_prints_every_layer(shipped_model):
    result = CliRunner().invoke(main, ["inspect", "--model", str(shipped_model)])
    assert result.exit_code == 0, result.output
    for name in ("conversion", "conv1", "pool2", "dense1", "predictions"):
        assert name in result.output
    assert "multiply-accumulates" in result.output
    # Seed 003's network at 28x28: 'valid' convolutions.
    assert re.search(r"\*conv1\s+1x26x26x64 ", result.output)
    assert re.search(r"\*pool2\s+1x5x5x64 ", result.output)


def test_convert_fit_and_apply_write_layer_pictures(tmp_path):
    pytest.importorskip("sklearn")
    from PIL import Image
    import numpy as np
    rng = np.random.default_rng(0)
    Image.fromarray(rng.integers(0, 256, (40, 50, 3), dtype=np.uint8)).save(tmp_path / "in.png")
    runner = CliRunner()
    fit = runner.invoke(main, ["convert", "fit", str(tmp_path / "in.png"), "--method", "pca", "-k", "3",
                               "-o", str(tmp_path / "m.json")])
    assert fit.exit_code == 0, fit.output
    apply = runner.invoke(main, ["convert", "apply", str(tmp_path / "m.json"), str(tmp_path / "in.png"),
                                 "-o", str(tmp_path / "out")])
    assert apply.exit_code == 0, apply.output
    pngs = sorted(p.name for p in (tmp_path / "out").glob("*.png"))
    assert pngs == ["00_pca0.png", "01_pca1.png", "02_pca2.png", "grid.png"]
    assert Image.open(tmp_path / "out" / "00_pca0.png").size == (50, 40)


def test_truncated_image_is_a_clear_error(tmp_path):
    from PIL import Image
    import numpy as np
    Image.fromarray(np.zeros((64, 64, 3), np.uint8)).save(tmp_path / "ok.jpg")
    data = (tmp_path / "ok.jpg").read_bytes()
    (tmp_path / "cut.jpg").write_bytes(data[: len(data) // 2])
    result = CliRunner().invoke(main, ["convert", "fit", str(tmp_path / "cut.jpg")])
    assert result.exit_code == 2 and "cut.jpg" in result.output


def test_layers_says_which_images_it_skipped_and_why(tmp_path):
    from PIL import Image
    import numpy as np
    Image.fromarray(np.zeros((64, 64, 3), np.uint8)).save(tmp_path / "ok.png")
    (tmp_path / "notes.jpg").write_text("not a picture")
    result = CliRunner().invoke(main, ["layers", str(tmp_path / "ok.png"), str(tmp_path / "notes.jpg"),
                                       "-o", str(tmp_path / "out")])
    assert result.exit_code == 0, result.output
    assert "skipped " in result.output and "notes.jpg: not a readable image" in result.output
    assert "(1 images skipped)" in result.output


def test_verify_reports_bit_exact_layers(shipped_model):
    pytest.importorskip("tflite_micro")
    pytest.importorskip("ai_edge_litert")
    result = CliRunner().invoke(main, ["verify", "--model", str(shipped_model), "--samples", "3"])
    assert result.exit_code == 0, result.output
    assert "tflite-micro: bit-exact on every tensor with mode tflm" in result.output
    assert "litert-ref: bit-exact on every tensor with mode litert-ref" in result.output
    for layer in ("conversion", "conv2", "predictions"):
        assert layer in result.output


def test_verify_refuses_a_corrupt_model(tmp_path):
    (tmp_path / "bad.tflite").write_bytes(b"\x00" * 64)
    result = CliRunner().invoke(main, ["verify", "--model", str(tmp_path / "bad.tflite")])
    assert result.exit_code == 2 and "TFL3" in result.output


def test_a_bounded_collect_that_never_reached_its_broker_fails(tmp_path):
    import socket
    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))
    port = closed.getsockname()[1]
    closed.close()
    result = CliRunner().invoke(main, ["collect", "--db", str(tmp_path / "r.sqlite"),
                                       "--mqtt-host", f"127.0.0.1:{port}", "--timeout", "1.5"])
    assert result.exit_code == 2
    assert f"error: never reached MQTT broker 127.0.0.1:{port} in 1.5 s" in result.output
