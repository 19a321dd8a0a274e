"""Bringing a model made elsewhere: `unseen expose`."""

from __future__ import annotations

import math

import click

from unseen.params import InputFile, InputPath, OutputDir


def _numbers(value: str | None, flag: str) -> list[float] | None:
    if value is None:
        return None
    try:
        numbers = [float(v) for v in value.split(",")]
    except ValueError:
        numbers = []
    if not numbers or not all(math.isfinite(v) for v in numbers):
        raise click.BadParameter(f"{value!r} is not a finite number or comma-separated finite numbers",
                                 param_hint=flag)
    return numbers


@click.command()
@click.argument("model", type=InputPath("model"))
@click.option("-o", "--output", type=OutputDir("artefact folder"), required=True, help="folder for the artefact")
@click.option("--labels", type=InputFile("labels file"), help="labels.txt, one label per class (default: indices)")
@click.option("--name", help="the model's name (default: the file's)")
@click.option("--mean", help="subtracted from each 0..255 pixel; one value or one per channel "
                             "(default: from the input's quantization)")
@click.option("--scale", help="multiplies (pixel - mean); one value or one per channel")
@click.option("--rgb/--bgr", "rgb", default=None, help="channel order the model expects (default RGB)")
@click.option("--resize", type=click.Choice(["stretch", "crop", "letterbox"]),
              help="how a frame is fitted to the input (default crop: the centre, at the input's aspect)")
@click.option("--only-layers", help="comma-separated layers to add beside the original outputs "
                                     "(the Edge TPU variant: fewer outputs, more of the graph compiled)")
def expose(model, output, labels, name, mean, scale, rgb, resize, only_layers) -> None:
    """Make MODEL.tflite (int8, from anywhere) an unseen artefact: every layer an output, and a manifest."""
    from edge_service.expose.core import expose_model
    from edge_service.expose.graph_manifest import Preprocessing
    color = None if rgb is None else ("rgb" if rgb else "bgr")
    options = Preprocessing(_numbers(mean, "--mean"), _numbers(scale, "--scale"), color, resize)
    only = [n.strip() for n in only_layers.split(",") if n.strip()] if only_layers is not None else None
    report = expose_model(model, output, name, labels, options, only)
    click.echo("\n".join(report.lines()))
