"""The device configuration: TOML plus flags; bad keys and values named."""

import re

import pytest

from edge_service.config import ConfigError, FIELDS, example_config_path, load_config


def test_defaults_and_flag_overrides():
    config = load_config(None, {"run.max_fps": 2.5, "model.backend": None})
    assert config["run.max_fps"] == 2.5 and config["model.backend"] == "auto"
    assert config["device_id"].startswith("unseen-")


def test_the_shipped_example_is_valid_and_documents_every_key():
    config = load_config(example_config_path())
    assert config["source.uri"] == "samples"
    text = example_config_path().read_text()
    for field in FIELDS:
        name = field.key.split(".")[-1]
        assert re.search(rf"^#?\s*{name}\s*=", text, re.MULTILINE), field.key


@pytest.mark.parametrize("text, message", [
    ('[source]\nurl = "x"\n', "unknown key 'source.url'"),
    ('[run]\nmax_fps = "fast"\n', "run.max_fps: expected float"),
    ('[run]\nqueue = 0\n', "run.queue: 0 is below the minimum"),
    ('[model]\nbackend = "gpu"\n', "model.backend: 'gpu' is not one of"),
    ('[run]\nframes = true\n', "run.frames: expected int"),
    ('[run\n', "not valid TOML"),
])
def test_bad_configs_name_the_key(tmp_path, text, message):
    (tmp_path / "d.toml").write_text(text)
    with pytest.raises(ConfigError, match=message.replace("(", r"\(")):
        load_config(tmp_path / "d.toml")


def test_every_key_has_a_serve_flag():
    from click.testing import CliRunner
    from unseen.cli import main
    help_text = CliRunner().invoke(main, ["serve", "--help"]).output
    for field in FIELDS:
        assert field.flag in help_text, field.flag
