"""`unseen serve`, `unseen layers`, `unseen filters` as a user runs them."""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

from click.testing import CliRunner

from unseen.cli import main


def test_serve_runs_until_sigterm_and_stops_cleanly(tmp_path):
    results, status = tmp_path / "results.jsonl", tmp_path / "status.json"
    process = subprocess.Popen(
        [sys.executable, "-m", "unseen.cli", "serve", "--source", "samples", "--loop", "--backend", "numpy",
         "--max-fps", "20", "--jsonl", str(results), "--status-file", str(status)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 30
    while time.time() < deadline and (not results.exists() or len(results.read_text().splitlines()) < 5):
        time.sleep(0.1)
    process.send_signal(signal.SIGTERM)
    _, err = process.communicate(timeout=20)
    assert process.returncode == 0, err
    assert "received SIGTERM" in err and "Traceback" not in err
    lines = [json.loads(line) for line in results.read_text().splitlines()]
    assert len(lines) >= 5 and len({line["id"] for line in lines}) == len(lines)
    assert [line["seq"] for line in lines] == sorted(line["seq"] for line in lines)
    final = json.loads(status.read_text())
    assert final["state"] == "stopped" and final["counters"]["processed"] == len(lines)


def test_serve_with_a_config_file_and_a_flag_override(tmp_path):
    config = tmp_path / "device.toml"
    config.write_text(f'device_id = "bench-1"\n[source]\nuri = "samples"\n[run]\nframes = 4\n'
                      f'[output]\njsonl = "{tmp_path / "r.jsonl"}"\n')
    result = CliRunner().invoke(main, ["serve", "--config", str(config), "--frames", "2", "--backend", "numpy"])
    assert result.exit_code == 0, result.output
    lines = (tmp_path / "r.jsonl").read_text().splitlines()
    assert len(lines) == 2 and json.loads(lines[0])["device"] == "bench-1"


def test_serve_with_a_missing_model_is_one_clear_line(tmp_path):
    result = CliRunner().invoke(main, ["serve", "--model", str(tmp_path / "none"), "--frames", "1"])
    assert result.exit_code == 2 and result.output.startswith("error:") and "no such model" in result.output


def test_layers_writes_a_gallery_of_every_layer(tmp_path):
    samples = Path(__file__).resolve().parents[2] / "edge_service" / "samples"
    result = CliRunner().invoke(main, ["layers", str(samples / "fashion_9_ankle_boot.png"),
                                       str(samples / "fashion_2_pullover.png"), "-o", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert re.search(r"fashion_9_ankle_boot.png: Ankle boot ", result.output)
    index = (tmp_path / "index.html").read_text()
    images = re.findall(r"src='([^']+)'", index)
    # Per frame: the camera frame, the model input, 8 layers, and at the frame's own resolution the
    # 8 conversion layers and their false-colour composite.
    assert len(images) == 2 * (2 + 8 + 8 + 1)
    assert all((tmp_path / image).exists() for image in images)


def test_the_conversion_layers_of_a_1000x872_frame_reach_the_gallery_at_1000x872(tmp_path):
    from PIL import Image
    from edge_service.sources.files import SAMPLES_DIR
    Image.open(SAMPLES_DIR / "hubble_deep_field.jpg").convert("RGB").resize((1000, 872)).save(tmp_path / "hdf.png")
    result = CliRunner().invoke(main, ["layers", str(tmp_path / "hdf.png"), "-o", str(tmp_path / "out")])
    assert result.exit_code == 0, result.output
    frame = tmp_path / "out" / "frames" / "000001"
    assert Image.open(frame / "frame.png").size == (1000, 872)
    composite = next(frame.glob("*conversion_composite.png"))
    assert Image.open(composite).size == (1000, 872)
    layer = Image.open(next(frame.glob("*conversion_0.png")))
    assert layer.width > 1000 and layer.height > 872  # the map at 1000x872, its title and colour bar


def test_filters_draws_every_weighted_op(tmp_path):
    result = CliRunner().invoke(main, ["filters", "-o", str(tmp_path)])
    assert result.exit_code == 0, result.output
    pngs = sorted(p.name for p in tmp_path.glob("*.png"))
    assert len(pngs) == 5 and pngs[0].endswith("conv_2d.png")


def _folder_with_two_corrupt_images(tmp_path: Path) -> Path:
    from edge_service.sources.files import SAMPLES_DIR
    folder = tmp_path / "frames"
    folder.mkdir()
    for sample in sorted(SAMPLES_DIR.glob("*.png"))[:3]:
        (folder / sample.name).write_bytes(sample.read_bytes())
    (folder / "truncated.png").write_bytes((folder / sample.name).read_bytes()[:100])
    (folder / "empty.jpg").write_bytes(b"")
    return folder


def test_the_last_line_and_the_status_file_tell_the_same_counts_and_the_outbox_state(tmp_path):
    folder = _folder_with_two_corrupt_images(tmp_path)
    status = tmp_path / "status.json"
    result = CliRunner().invoke(main, ["serve", "--source", str(folder), "--backend", "numpy", "--status-file",
                                       str(status), "--mqtt-host", "127.0.0.1", "--mqtt-port", "9",
                                       "--outbox-dir", str(tmp_path / "outbox")])
    assert result.exit_code == 0, result.output
    final = json.loads(status.read_text())
    assert final["counters"]["bad_frames"] == 2 and final["counters"]["processed"] == 3
    assert "3 frames processed" in result.output and "2 bad" in result.output
    assert final["last_error"] and final["outbox"]["messages"] == 3  # the broker is unreachable: all kept


def test_a_second_run_keeps_the_first_runs_results_file(tmp_path):
    out = tmp_path / "r.jsonl"
    for frames in ("2", "3"):
        assert CliRunner().invoke(main, ["serve", "--frames", frames, "--backend", "numpy", "--jsonl",
                                         str(out)]).exit_code == 0
    assert [json.loads(line)["seq"] for line in out.read_text().splitlines()] == [1, 2, 3]
    assert [json.loads(line)["seq"] for line in (tmp_path / "r.jsonl.1").read_text().splitlines()] == [1, 2]


def test_the_layers_gallery_reports_what_it_processed_not_a_live_rate(tmp_path):
    folder = _folder_with_two_corrupt_images(tmp_path)
    result = CliRunner().invoke(main, ["layers", str(folder), "-o", str(tmp_path / "out")])
    assert result.exit_code == 0, result.output
    index = (tmp_path / "out" / "index.html").read_text()
    assert "processed 3" in index and "bad frames 2" in index and "fps" not in index
    assert "pixelated" not in index  # shrunk pixel-art garbles the channel numbers


def test_inspect_reads_a_bare_model_in_a_folder_without_a_manifest(tmp_path, shipped_model):
    (tmp_path / "model.tflite").write_bytes((shipped_model / "model.tflite").read_bytes())
    result = CliRunner().invoke(main, ["inspect", "--model", str(tmp_path)])
    assert result.exit_code == 0 and "CONV_2D" in result.output and "no manifest" not in result.output, result.output


def test_convert_apply_takes_the_csv_matrices_the_readme_offers(tmp_path):
    from edge_service.sources.files import SAMPLES_DIR
    (tmp_path / "m.csv").write_text("# luma and its inverse\n0.299,0.587,0.114\n-0.299,-0.587,-0.114\n")
    result = CliRunner().invoke(main, ["convert", "apply", str(tmp_path / "m.csv"),
                                       str(sorted(SAMPLES_DIR.glob("*.png"))[0]), "-o", str(tmp_path / "out")])
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in (tmp_path / "out").glob("*.png"))[-1] == "grid.png"


def test_a_bounded_run_that_processed_nothing_fails(tmp_path):
    (tmp_path / "notes.jpg").write_text("not a picture")
    result = CliRunner().invoke(main, ["serve", "--source", str(tmp_path / "notes.jpg"), "--frames", "2",
                                       "--backend", "numpy"])
    assert result.exit_code == 2, result.output
    assert "0 frames processed" in result.output and "1 bad" in result.output
    assert "error: no frame was processed; the last error:" in result.output and "not a readable image" in result.output


def test_an_unwritable_status_file_is_refused_before_the_run(tmp_path):
    (tmp_path / "notes.txt").write_text("x")
    result = CliRunner().invoke(main, ["serve", "--frames", "1", "--backend", "numpy",
                                       "--status-file", str(tmp_path / "notes.txt" / "status.json")])
    assert result.exit_code == 2 and "notes.txt is a file, not a folder" in result.output, result.output
    assert "frames processed" not in result.output
