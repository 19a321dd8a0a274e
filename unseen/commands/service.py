"""Running the edge service: serve, layers, filters; and the config flags they share."""

from __future__ import annotations

from pathlib import Path

import click

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


@click.command()
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


@click.command()
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


@click.command()
@click.argument("model", required=False, type=click.Path(path_type=Path))
@click.option("-o", "--output", type=click.Path(path_type=Path), default=Path("out/filters"), show_default=True)
def filters(model, output) -> None:
    """Draw the convolution filters and weight matrices of MODEL."""
    from edge_service.offline import render_filters
    index = render_filters(model, output)
    click.echo(f"filters: {index}")
