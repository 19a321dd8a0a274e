"""The `unseen` command. Heavy imports happen inside each subcommand, so --help is instant."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from unseen.errors import UnseenError


class UnseenGroup(click.Group):
    """Turns a user's mistake into one clear line and exit code 2, never a traceback."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except UnseenError as exc:
            click.secho(f"error: {exc}", fg="red", err=True)
            sys.exit(2)
        except KeyboardInterrupt:
            click.echo("interrupted", err=True)
            sys.exit(130)


@click.group(cls=UnseenGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="unseen")
def main() -> None:
    """unseen: show what a CNN sees inside, from training to the edge."""


def _size(value: str | None) -> tuple[int, int] | None:
    if not value:
        return None
    try:
        parts = [int(v) for v in value.lower().split("x")]
    except ValueError:
        raise click.BadParameter(f"{value!r} is not HxW, e.g. 16x16") from None
    if len(parts) == 1:
        parts *= 2
    if len(parts) != 2 or min(parts) < 4 or max(parts) > 1024:
        raise click.BadParameter(f"{value!r} is not HxW with sides 4..1024")
    return parts[0], parts[1]


@main.command()
@click.option("--dataset", default="digits", show_default=True,
              help="digits, faces, an IDX folder, a folder of class folders, or an .npz")
@click.option("--preset", type=click.Choice(["seed", "micro"]), default="seed", show_default=True)
@click.option("-o", "--output", type=click.Path(path_type=Path), default=Path("models/digits"),
              show_default=True)
@click.option("--epochs", type=click.IntRange(1, 1000), default=30, show_default=True)
@click.option("--input-size", default="16x16", show_default=True, help="HxW the images are resized to")
@click.option("--channels", type=click.Choice(["1", "3"]), default=None, help="force grey or RGB")
@click.option("--limit", type=click.IntRange(10), default=None, help="use only this many images")
@click.option("--conversion", default="pca", show_default=True,
              help="pca, whiten, ica, nmf, identity, luma, sobel, edges, or a matrix .json/.csv")
@click.option("--components", type=click.IntRange(1, 64), default=8, show_default=True)
@click.option("--patch", type=click.IntRange(1, 7), default=3, show_default=True)
@click.option("--fine-tune-conversion", is_flag=True, help="train the conversion layer too")
@click.option("--calibration-samples", type=click.IntRange(1), default=300, show_default=True)
@click.option("--seed", type=int, default=0, show_default=True)
def train(dataset, preset, output, epochs, input_size, channels, limit, conversion, components, patch,
          fine_tune_conversion, calibration_samples, seed) -> None:
    """Train a CNN behind a conversion matrix and write the int8 artefact."""
    from training.train import TrainOptions, train as run_training
    run_training(TrainOptions(dataset=dataset, preset=preset, output=output, epochs=epochs,
                              size=_size(input_size), channels=int(channels) if channels else None,
                              limit=limit, conversion=conversion, components=components, patch=patch,
                              fine_tune_conversion=fine_tune_conversion,
                              calibration_samples=calibration_samples, seed=seed))


@main.group()
def convert() -> None:
    """Fit or apply a conversion matrix (new layers from each pixel)."""


@convert.command("fit")
@click.argument("images", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--method", default="pca", show_default=True,
              help="pca, whiten, ica, nmf (fitted) or identity, luma, sobel, edges (fixed)")
@click.option("--components", "-k", type=click.IntRange(1, 256), default=3, show_default=True)
@click.option("--patch", type=click.IntRange(1, 15), default=1, show_default=True)
@click.option("--gray", is_flag=True, help="fit on grey values instead of RGB")
@click.option("--samples", type=click.IntRange(100), default=20_000, show_default=True)
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("-o", "--output", type=click.Path(path_type=Path), default=Path("matrix.json"),
              show_default=True)
def convert_fit(images, method, components, patch, gray, samples, seed, output) -> None:
    """Fit a conversion matrix on the pixels of IMAGES and save it as JSON."""
    import time
    from edge_service.conversion import FIXED_METHODS, fixed_matrix
    from edge_service.images import load_image
    pixels = [load_image(p, "L" if gray else "RGB") for p in images]
    start = time.perf_counter()
    if method in FIXED_METHODS:
        matrix = fixed_matrix(method, pixels[0].shape[2], patch if method == "identity" else None)
    else:
        from training.conversion_fit import fit_conversion_matrix
        click.echo(f"fitting {method} on {samples} sampled pixel vectors of {len(images)} image(s)...", err=True)
        matrix = fit_conversion_matrix(pixels, method, components, patch, samples, seed)
    matrix.save(output)
    click.echo(f"{method}: {matrix.components} layers x {matrix.dim} values, "
               f"fitted in {time.perf_counter() - start:.2f} s -> {output}")


@convert.command("apply")
@click.argument("matrix", type=click.Path(path_type=Path))
@click.argument("image", type=click.Path(path_type=Path))
@click.option("-o", "--output", type=click.Path(path_type=Path), default=Path("out"), show_default=True)
def convert_apply(matrix, image, output) -> None:
    """Apply MATRIX to IMAGE: one PNG per layer and a labelled grid."""
    from edge_service.conversion import ConversionMatrix
    from edge_service.images import load_image
    from edge_service.pictures import save_layer_pictures
    cm = ConversionMatrix.load(matrix)
    layers = cm.apply(load_image(image, "L" if cm.channels == 1 else "RGB"))
    written = save_layer_pictures(layers, cm.layer_names, output, f"{cm.method} layers of {image.name}")
    click.echo(f"wrote {len(written)} pictures to {output}/ (grid: {written[-1]})")


@main.command()
@click.argument("model", required=False, type=click.Path(path_type=Path))
def inspect(model) -> None:
    """Print the layers of MODEL (default: the shipped model)."""
    from edge_service.inspect_model import describe
    click.echo(describe(model))


@main.command()
@click.argument("model", required=False, type=click.Path(path_type=Path))
@click.option("--samples", type=click.IntRange(1, 10_000), default=20, show_default=True)
@click.option("--seed", type=int, default=0, show_default=True)
def verify(model, samples, seed) -> None:
    """Run the numpy kernels beside TFLite Micro and LiteRT; print per-layer differences."""
    from edge_service.inspect_model import load_graph
    from edge_service.verify import report, verify as run_verify
    _, artefact, path = load_graph(model)
    data = artefact.model_bytes if artefact is not None else path.read_bytes()
    interpreter, comparisons = run_verify(data, samples, seed)
    text, ok = report(interpreter, comparisons, samples)
    click.echo(text)
    if not ok:
        sys.exit(1)


def config_options(command):
    """One flag per configuration key (flags override the --config file)."""
    from edge_service.config import FIELDS
    for field in reversed(FIELDS):
        dest = field.key.replace(".", "__")
        if field.type is bool:
            name = field.flag.lstrip("-")
            option = click.option(f"--{name}/--no-{name}", dest, default=None, help=field.help)
        else:
            kind = click.Choice(field.choices) if field.choices else field.type
            option = click.option(field.flag, dest, type=kind, default=None,
                                  help=f"{field.help} [config {field.key}, default {field.default!r}]")
        command = option(command)
    return command


def _load_config(config_path, options) -> dict:
    from edge_service.config import load_config
    return load_config(config_path, {k.replace("__", "."): v for k, v in options.items()})


def _setup_logging(level: str) -> None:
    import logging
    logging.basicConfig(level=level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")


@main.command()
@click.option("--config", "config_path", type=click.Path(path_type=Path), help="device TOML file")
@config_options
def serve(config_path, **options) -> None:
    """Run the edge service until SIGINT / SIGTERM (or --frames are done)."""
    config = _load_config(config_path, options)
    _setup_logging(config["log.level"])
    from edge_service.service import serve as run_service
    counters = run_service(config)
    click.echo(f"stopped: {counters.processed} frames processed, {counters.dropped} dropped, "
               f"{counters.bad_frames} bad, {counters.inference_errors} failed", err=True)


@main.command()
@click.argument("images", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--model", type=click.Path(path_type=Path), help="model folder (default: the shipped model)")
@click.option("--backend", default="numpy", show_default=True,
              type=click.Choice(["auto", "edgetpu", "litert", "tflite-runtime", "numpy"]))
@click.option("-o", "--output", type=click.Path(path_type=Path), default=Path("out/layers"), show_default=True)
def layers(images, model, backend, output) -> None:
    """Show what the model sees in IMAGES: every layer's feature maps, in an HTML gallery."""
    from edge_service.offline import render_layers
    index, results = render_layers(list(images), model, backend, output)
    for path, result in zip(images, results):
        top = ", ".join(f"{t['label']} {t['score']:.2f}" for t in result.top)
        click.echo(f"{path}: {top}")
    click.echo(f"gallery: {index}")


@main.command()
@click.argument("model", required=False, type=click.Path(path_type=Path))
@click.option("-o", "--output", type=click.Path(path_type=Path), default=Path("out/filters"), show_default=True)
def filters(model, output) -> None:
    """Draw the convolution filters and weight matrices of MODEL."""
    from edge_service.offline import render_filters
    index = render_filters(model, output)
    click.echo(f"filters: {index}")


@main.group()
def outbox() -> None:
    """Inspect, send or empty the durable MQTT outbox."""


def _open_outbox(config_path, options):
    from edge_service.service import open_outbox
    config = _load_config(config_path, options)
    return config, open_outbox(config)


@outbox.command("status")
@click.option("--config", "config_path", type=click.Path(path_type=Path), help="device TOML file")
@config_options
def outbox_status(config_path, **options) -> None:
    """How many messages wait, how big, how old, and what was dropped."""
    _, box = _open_outbox(config_path, options)
    stats = box.stats()
    box.close()
    click.echo(f"{stats['messages']} messages waiting ({stats['bytes']} bytes of {stats['max_bytes']}); "
               f"by kind {stats['by_kind']}; oldest {stats['oldest_age_s']} s; dropped when full: "
               f"{stats['dropped_layers']} layer images, {stats['dropped_results']} results")


@outbox.command("flush")
@click.option("--config", "config_path", type=click.Path(path_type=Path), help="device TOML file")
@click.option("--timeout", type=click.FloatRange(0.1), default=60.0, show_default=True)
@config_options
def outbox_flush(config_path, timeout, **options) -> None:
    """Send every waiting message to the configured broker now."""
    from edge_service.mqtt.publisher import MqttSink
    from edge_service.service import mqtt_settings
    config, box = _open_outbox(config_path, options)
    if not config["mqtt.host"]:
        box.close()
        raise click.UsageError("no broker configured (mqtt.host / --mqtt-host)")
    waiting = box.count
    sink = MqttSink(mqtt_settings(config), box, config["device_id"])
    sink.start(wait=True)
    emptied = sink.drain(timeout)
    left = box.count
    sink.close()
    click.echo(f"sent {waiting - left} of {waiting} messages" + ("" if emptied else f"; {left} still waiting"))
    if not emptied:
        sys.exit(1)


@outbox.command("purge")
@click.option("--config", "config_path", type=click.Path(path_type=Path), help="device TOML file")
@click.option("--yes", is_flag=True, help="do not ask")
@config_options
def outbox_purge(config_path, yes, **options) -> None:
    """Delete every waiting message (they will never be sent)."""
    _, box = _open_outbox(config_path, options)
    if not yes and not click.confirm(f"delete {box.count} waiting messages?"):
        box.close()
        return
    click.echo(f"deleted {box.purge()} messages")
    box.close()


@main.command()
@click.option("--mqtt-host", default="127.0.0.1", show_default=True)
@click.option("--mqtt-port", type=int, default=1883, show_default=True)
@click.option("--mqtt-username", default="")
@click.option("--mqtt-password", default="")
@click.option("--prefix", default="unseen", show_default=True)
@click.option("--device", default="+", show_default=True, help="a device id, or + for all")
@click.option("--save", type=click.Path(path_type=Path), help="keep layer PNGs and a gallery here")
@click.option("--count", type=click.IntRange(0), default=0, help="stop after this many results")
@click.option("--timeout", type=click.FloatRange(0), default=0, help="stop after this many seconds")
def watch(mqtt_host, mqtt_port, mqtt_username, mqtt_password, prefix, device, save, count, timeout) -> None:
    """Follow results live (duplicates dropped); save layer PNGs and a gallery."""
    from edge_service.mqtt.watch import Watcher
    watcher = Watcher(mqtt_host, mqtt_port, prefix, device, save, click.echo, mqtt_username, mqtt_password)
    seen = watcher.run(count, timeout)
    click.echo(f"{seen} results, {watcher.duplicates} duplicates dropped"
               + (f"; gallery {save / 'index.html'}" if save else ""))


@main.command()
@click.option("--port", type=click.IntRange(0, 65535), default=0, help="0: a free port")
@click.option("--port-file", type=click.Path(path_type=Path), help="write the port here once listening")
def broker(port, port_file) -> None:
    """Run a local MQTT broker on loopback (mosquitto when installed, else amqtt) until Ctrl-C."""
    import signal
    import threading
    from edge_service.mqtt.embedded_broker import EmbeddedBroker
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    with EmbeddedBroker(port) as running:
        click.echo(f"{running.kind} listening on 127.0.0.1:{running.port}", err=True)
        if port_file:
            port_file.write_text(str(running.port))
        try:
            stop.wait()
        except KeyboardInterrupt:
            pass


@main.group()
def export() -> None:
    """Take a model to microcontrollers, the Edge TPU, or an offline bundle."""


@export.command("firmware")
@click.argument("model", required=False, type=click.Path(path_type=Path))
@click.option("-o", "--output", type=click.Path(path_type=Path), default=Path("out/firmware"), show_default=True)
@click.option("--name", help="C identifier for the model (default: from the manifest)")
@click.option("--flash-kb", type=click.FloatRange(1), help="flash budget for the model data, KiB")
@click.option("--arena-kb", type=click.FloatRange(1), help="RAM budget for the tensor arena, KiB")
def export_firmware_command(model, output, name, flash_kb, arena_kb) -> None:
    """C++ sources for TFLite Micro: model data, settings, op resolver, an example."""
    from firmware_export.firmware import export_firmware
    report = export_firmware(model, output, name, flash_kb, arena_kb)
    click.echo("\n".join(report.lines()))


@export.command("edgetpu")
@click.argument("model", required=False, type=click.Path(path_type=Path))
@click.option("-o", "--output", type=click.Path(path_type=Path), help="where the compiler writes (default: beside)")
def export_edgetpu_command(model, output) -> None:
    """Check MODEL against the Edge TPU's requirements, layer by layer; compile when possible."""
    from firmware_export.edgetpu import export_edgetpu
    problems, outcome = export_edgetpu(model, output)
    if problems:
        click.echo(f"{len(problems)} problem(s) for the Edge TPU:")
        for problem in problems:
            click.echo(f"  {problem}")
    else:
        click.echo("every layer meets the Edge TPU's requirements")
    click.echo(outcome)


@export.command("bundle")
@click.argument("model", required=False, type=click.Path(path_type=Path))
@click.option("-o", "--output", type=click.Path(path_type=Path), default=Path("model.unseen.tar.gz"),
              show_default=True)
@click.option("--sign-key", type=click.Path(path_type=Path), help="Ed25519 private key (PEM) to sign with")
def export_bundle_command(model, output, sign_key) -> None:
    """An offline bundle: model, manifest, labels, SHA-256 list, optional signature."""
    from edge_service.manifest import default_model_dir
    from firmware_export.bundle import make_bundle
    info = make_bundle(model or default_model_dir(), output, sign_key)
    click.echo(f"wrote {output}: {info['name']} ({info['model_sha256'][:12]}), "
               f"{'signed' if info['signed'] else 'unsigned'}, files {', '.join(info['files'])}")


@export.command("keygen")
@click.option("-o", "--output", type=click.Path(path_type=Path), default=Path("unseen-signing"), show_default=True,
              help="writes OUTPUT.key (private) and OUTPUT.pub")
def export_keygen(output) -> None:
    """A new Ed25519 key pair for signing bundles."""
    from firmware_export.bundle import generate_key
    private, public = output.with_suffix(".key"), output.with_suffix(".pub")
    generate_key(private, public)
    click.echo(f"private key {private} (keep it off the devices), public key {public} (configure it on them)")


def _model_dir(model_dir: Path | None) -> Path:
    if model_dir:
        return model_dir
    raise click.UsageError("give --model-dir (the folder the service's model.dir points at)")


@main.command()
@click.argument("bundle", type=click.Path(path_type=Path))
@click.option("--model-dir", type=click.Path(path_type=Path), help="where models are installed")
@click.option("--public-key", type=click.Path(path_type=Path),
              help="Ed25519 public key; when given, only bundles signed with its private key install")
def install(bundle, model_dir, public_key) -> None:
    """Verify BUNDLE and install it atomically, keeping the previous model for rollback."""
    from firmware_export.bundle import install_bundle
    done = install_bundle(bundle, _model_dir(model_dir), public_key)
    click.echo(f"installed {done['name']} version {done['version']} ({'signed' if done['signed'] else 'unsigned'})"
               f" at {done['path']}" + (f"; previous {done['previous']}" if done["previous"] else ""))


@main.command()
@click.argument("name")
@click.option("--model-dir", type=click.Path(path_type=Path), help="where models are installed")
def rollback(name, model_dir) -> None:
    """Go back to the model installed before the current one."""
    from firmware_export.bundle import rollback as do_rollback
    done = do_rollback(_model_dir(model_dir), name)
    click.echo(f"{done['name']}: now {done['current']} (was {done['previous']})")


if __name__ == "__main__":
    main()
