"""The device configuration: typed sections declared once; TOML plus flags; bad keys and values named."""

import re

import pytest
from click.testing import CliRunner

from edge_service.config import ConfigError, all_options, example_config_path, load_config, render_example
from unseen.cli import main


def test_defaults_and_flag_overrides():
    config = load_config(None, {"run.max_fps": 2.5, "model.backend": None})
    assert config.run.max_fps == 2.5 and config.model.backend == "auto"
    assert config.device_id.startswith("unseen-")


def test_the_shipped_example_is_generated_from_the_declarations_and_is_valid():
    assert example_config_path().read_text() == render_example(), \
        "regenerate it: python -m edge_service.config.example"
    config = load_config(example_config_path())
    assert config.source.uri == "samples" and config.model.dir == "/var/lib/unseen/models"
    text = example_config_path().read_text()
    for key, _ in all_options():
        assert re.search(rf"^#?\s*{key.split('.')[-1]}\s*=", text, re.MULTILINE), key


@pytest.mark.parametrize("text, message", [
    ('[source]\nurl = "x"\n', "unknown key 'source.url'"),
    ('[run]\nmax_fps = "fast"\n', "run.max_fps: expected float"),
    ('[run]\nqueue = 0\n', "run.queue: 0 is below the minimum"),
    ('[run]\nmax_fps = nan\n', "run.max_fps: nan is not a finite number"),
    ('[model]\nbackend = "gpu"\n', "model.backend: 'gpu' is not one of auto, edgetpu, litert"),
    ('[run]\nframes = true\n', "run.frames: expected int"),
    ('[mqtt]\nport = 99999\n', "mqtt.port: 99999 is above the maximum 65535"),
    ('device_id = "a/b/#"\n', "device_id: 'a/b/#' must not contain the MQTT wildcards"),
    ('device_id = "kitchen/left"\n', "device_id: 'kitchen/left' must not contain '/'"),
    ('[mqtt]\nprefix = "x/#"\n', "mqtt.prefix: 'x/#' must not contain the MQTT wildcards"),
    ('[mqtt]\nca_file = "/etc/hostname"\n', "mqtt.tls is off"),
    ('[mqtt]\ntls = true\ncert_file = "/etc/hostname"\n', "go together"),
    ('[run\n', "not valid TOML"),
    (f'device_id = "{"d" * 2000}"\n', "is longer than 1024 bytes"),
    (f'[mqtt]\npassword = "{"p" * 70000}"\n', "is longer than MQTT's 65535 bytes"),
    ('[mqtt]\nhost = "a,,b"\n', "mqtt.host: 'a,,b' is not a list of brokers (an empty broker address between commas)"),
    ('[mqtt]\nhost = "a:1883,b:http"\n', "'b:http': the port must be a number from 1 to 65535"),
    ('[mqtt]\nhost = "mqtt://a"\n', "'mqtt://a' is not a broker address"),
])
def test_bad_configs_name_the_key(tmp_path, text, message):
    (tmp_path / "d.toml").write_text(text)
    with pytest.raises(ConfigError, match=re.escape(message)):
        load_config(tmp_path / "d.toml")


def test_every_key_has_a_serve_flag():
    help_text = CliRunner().invoke(main, ["serve", "--help"]).output
    for _, opt in all_options():
        assert opt.flag in help_text, opt.flag


def test_the_outbox_commands_show_only_the_options_they_use():
    status_help = CliRunner().invoke(main, ["outbox", "status", "--help"]).output
    assert "--outbox-dir" in status_help and "--source" not in status_help and "--mqtt-host" not in status_help
    flush_help = CliRunner().invoke(main, ["outbox", "flush", "--help"]).output
    assert "--mqtt-host" in flush_help and "--mqtt-tls" in flush_help and "--max-fps" not in flush_help


def test_watch_takes_the_same_broker_options_as_serve():
    serve_help = CliRunner().invoke(main, ["serve", "--help"]).output
    watch_help = CliRunner().invoke(main, ["watch", "--help"]).output
    for flag in ("--mqtt-host", "--mqtt-port", "--mqtt-prefix", "--device-id", "--mqtt-tls", "--mqtt-ca-file",
                 "--mqtt-cert-file", "--mqtt-key-file", "--mqtt-protocol", "--mqtt-username"):
        assert flag in serve_help and flag in watch_help, flag


def test_several_brokers_are_one_key_with_the_port_for_hosts_given_without_one():
    from edge_service.service import mqtt_settings
    settings = mqtt_settings(load_config(overrides={"mqtt.host": "n1, n2:1884,[::1]:1885", "mqtt.port": 1999}))
    assert settings.brokers == [("n1", 1999), ("n2", 1884), ("::1", 1885)]
    assert settings.address == "n1:1999, n2:1884, [::1]:1885"
