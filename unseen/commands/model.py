"""Training and looking at models: train, convert, inspect, verify."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from unseen.params import FiniteFloat, InputFile, OutputDir, OutputFile, model_option

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


@click.command()
@click.option("--dataset", default="digits", show_default=True,
              help="digits, faces, fashion-mnist, an IDX folder, a folder of class folders, or an .npz")
@click.option("--data-dir", type=click.Path(path_type=Path), default=None,
              help="where fashion-mnist's IDX files are (default /usr/share/datasets/fashion-mnist)")
@click.option("--preset", type=click.Choice(["seed", "micro"]), default="seed", show_default=True)
@click.option("-o", "--output", type=OutputDir(), default=None, help="artefact folder  [default: models/<dataset>]")
@click.option("--epochs", type=click.IntRange(1, 1000), default=None,
              help="training epochs  [default: the preset's recipe for the dataset]")
@click.option("--input-size", default=None, help="HxW the images are resized to  [default: the dataset's own]")
@click.option("--channels", type=click.Choice(["1", "3"]), default=None, help="force grey or RGB")
@click.option("--limit", type=click.IntRange(10), default=None,
              help="use only this many images, drawn at random (of each of the train and test files, for a "
                   "dataset that has both); every class must keep at least 5")
@click.option("--conversion", default="pca", show_default=True,
              help="pca, whiten, ica, nmf, identity, luma, sobel, edges, or a matrix .json/.csv")
@click.option("--components", type=click.IntRange(1, 64), default=8, show_default=True)
@click.option("--patch", type=click.IntRange(1, 7), default=3, show_default=True)
@click.option("--fine-tune-conversion", is_flag=True, help="train the conversion layer too")
@click.option("--batch-size", type=click.IntRange(1, 4096), default=None, help="[default: the recipe's, else 32]")
@click.option("--dropout", type=FiniteFloat(0.0, 0.9), default=None,
              help="before the dense layers  [default: the recipe's, else 0]")
@click.option("--augment", default=None, help="flip, shift, flip+shift or none  [default: the recipe's, else none]")
@click.option("--schedule", type=click.Choice(["constant", "cosine"]), default=None,
              help="learning rate  [default: the recipe's, else constant]")
@click.option("--calibration-samples", type=click.IntRange(1), default=None, help="[default: the recipe's, else 300]")
@click.option("--seed", type=int, default=0, show_default=True)
def train(dataset, data_dir, preset, output, input_size, channels, limit, conversion, components, patch,
          fine_tune_conversion, epochs, batch_size, dropout, augment, schedule, calibration_samples, seed) -> None:
    """Train a CNN behind a conversion matrix and write the int8 artefact.

    A dataset with a recipe (fashion-mnist) gets its epochs, batch, dropout, augmentation and
    learning-rate schedule unless given here.
    """
    from training.train import TrainOptions, train as run_training
    run_training(TrainOptions(dataset=dataset, preset=preset, output=output, size=_size(input_size),
                              channels=int(channels) if channels else None, limit=limit, data_dir=data_dir,
                              conversion=conversion, components=components, patch=patch,
                              fine_tune_conversion=fine_tune_conversion, seed=seed, epochs=epochs,
                              batch_size=batch_size, dropout=dropout, augment=augment, schedule=schedule,
                              calibration_samples=calibration_samples))


@click.group()
def convert() -> None:
    """Fit or apply a conversion matrix (new layers from each pixel)."""


@convert.command("fit")
@click.argument("images", nargs=-1, required=True, type=InputFile("image"))
@click.option("--method", default="pca", show_default=True,
              help="pca, whiten, ica, nmf (fitted) or identity, luma, sobel, edges (fixed)")
@click.option("--components", "-k", type=click.IntRange(1, 256), default=3, show_default=True)
@click.option("--patch", type=click.IntRange(1, 15), default=1, show_default=True)
@click.option("--gray", is_flag=True, help="fit on grey values instead of RGB")
@click.option("--samples", type=click.IntRange(100), default=20_000, show_default=True)
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("-o", "--output", type=OutputFile(), default="matrix.json", show_default=True)
def convert_fit(images, method, components, patch, gray, samples, seed, output) -> None:
    """Fit a conversion matrix on the pixels of IMAGES and save it as JSON."""
    import time
    from edge_service.conversion import FIXED_METHODS
    from edge_service.images import load_image
    from training.conversion_fit import matrix_for_method
    pixels = [load_image(p, "L" if gray else "RGB") for p in images]
    start = time.perf_counter()
    if method not in FIXED_METHODS:
        click.echo(f"fitting {method} on {samples} sampled pixel vectors of {len(images)} image(s)...", err=True)
    matrix = matrix_for_method(method, pixels, components, patch, samples, seed)
    matrix.save(output)
    click.echo(f"{method}: {matrix.components} layers x {matrix.dim} values, "
               f"fitted in {time.perf_counter() - start:.2f} s -> {output}")


@convert.command("apply")
@click.argument("matrix", type=InputFile("conversion matrix"))
@click.argument("image", type=InputFile("image"))
@click.option("-o", "--output", type=OutputDir(), default="out", show_default=True)
def convert_apply(matrix, image, output) -> None:
    """Apply MATRIX to IMAGE: one PNG per layer and a labelled grid."""
    from edge_service.conversion import ConversionMatrix
    from edge_service.images import load_image
    from edge_service.unit_pictures import save_layer_pictures
    cm = ConversionMatrix.load(matrix)
    layers = cm.apply(load_image(image, "L" if cm.channels == 1 else "RGB"))
    written = save_layer_pictures(layers, cm.layer_names, output, f"{cm.method} layers of {image.name}")
    click.echo(f"wrote {len(written)} pictures to {output}/ (grid: {written[-1]})")


@click.command()
@model_option
def inspect(model) -> None:
    """Print the layers of MODEL (default: the shipped model)."""
    from edge_service.inspect_model import describe
    click.echo(describe(model))


@click.command()
@model_option
@click.option("--samples", type=click.IntRange(1, 10_000), default=20, show_default=True)
@click.option("--seed", type=int, default=0, show_default=True)
def verify(model, samples, seed) -> None:
    """Run the numpy kernels beside TFLite Micro and LiteRT; print per-layer differences."""
    from edge_service.inspect_model import load_graph
    from edge_service.verify import report, verify as run_verify
    interpreter, comparisons = run_verify(load_graph(model).data, samples, seed)
    text, ok = report(interpreter, comparisons, samples)
    click.echo(text)
    if not ok:
        sys.exit(1)
