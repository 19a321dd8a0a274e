"""Pictures from the device side: seed 003's activation figure and seed 000's full-resolution layers."""

from __future__ import annotations

from pathlib import Path

import click

from unseen.params import InputFile, OutputDir, OutputFile, model_option


def _picture_file(path: Path) -> Path:
    from edge_service.errors import EdgeError
    if path.suffix.lower() not in (".png", ".jpg", ".jpeg"):
        raise EdgeError(f"{path}: write a .png or .jpg")
    return path


@click.command()
@model_option
@click.option("--dataset", default="fashion-mnist", show_default=True,
              help="fashion-mnist, or a folder holding t10k-* IDX files")
@click.option("--data-dir", type=click.Path(path_type=Path), default=None,
              help="where fashion-mnist's IDX files are (default /usr/share/datasets/fashion-mnist)")
@click.option("--label", default="9", show_default=True, help="the class: its number or its name")
@click.option("--channel", type=click.IntRange(0), default=1, show_default=True)
@click.option("--count", type=click.IntRange(1, 20), default=3, show_default=True,
              help="the first COUNT test images of that class")
@click.option("--compare-float", is_flag=True, help="add the float model's maps (model_float.tflite, LiteRT)")
@click.option("-o", "--output", type=OutputFile("picture"), default=Path("activations.png"), show_default=True)
def activations(model, dataset, data_dir, label, channel, count, compare_float, output) -> None:
    """Seed 003's figure: test images of one class and one channel of every conv and pooling layer."""
    from edge_service import idx
    from edge_service.activations import activation_figure
    from edge_service.errors import EdgeError
    from edge_service.manifest import default_model_dir, load_artefact
    _picture_file(output)
    artefact = load_artefact(model or default_model_dir())
    labels = artefact.manifest.labels
    number = int(label) if label.isdigit() else (labels.index(label) if label in labels else -1)
    if not 0 <= number < len(labels):
        raise EdgeError(f"label {label!r} is not one of 0..{len(labels) - 1} or {', '.join(labels)}")
    if dataset == idx.FASHION_MNIST:
        x, y = idx.fashion_mnist_test(data_dir)
    else:
        pairs = idx.idx_pairs(Path(dataset)) if Path(dataset).is_dir() else {}
        if "t10k" not in pairs:
            raise EdgeError(f"{dataset}: neither fashion-mnist nor a folder with t10k-* IDX files")
        x, y = idx.read_pair(*pairs["t10k"])
    chosen = [i for i in range(len(y)) if y[i] == number][:count]
    if not chosen:
        raise EdgeError(f"the test images have no class {number}")
    title = (f"{artefact.manifest.name}, int8 through the numpy kernels{' and float (LiteRT)' if compare_float else ''}: "
             f"channel {channel} of test images {', '.join(map(str, chosen))} ({labels[number]}); real units")
    figure = activation_figure(artefact, [x[i] for i in chosen], channel, title, compare_float)
    output.parent.mkdir(parents=True, exist_ok=True)
    figure.save(output)
    click.echo(f"wrote {output} ({figure.width}x{figure.height}): {len(chosen)} images of {labels[number]!r}, "
               f"channel {channel}")


@click.command("conversion-layers")
@click.argument("image", type=InputFile("image"))
@model_option
@click.option("--backend", type=click.Choice(["numpy", "litert", "litert-ref", "tflm"]), default="numpy",
              show_default=True)
@click.option("--max-pixels", type=click.IntRange(1), default=2_000_000, show_default=True,
              help="larger frames are scaled down to this many pixels first")
@click.option("--composite", default="0,1,2", show_default=True, help="three layers for the false-colour picture")
@click.option("-o", "--output", type=OutputDir(), default=Path("out/conversion"), show_default=True)
def conversion_layers(image, model, backend, max_pixels, composite, output) -> None:
    """The model's conversion layers of IMAGE at its own resolution (conversion.tflite), as pictures."""
    from edge_service.errors import EdgeError
    from edge_service.fullres import ConversionLayers
    from edge_service.images import read_image
    from edge_service.manifest import default_model_dir, load_artefact
    from edge_service.unit_pictures import save_conversion_pictures
    try:
        chosen = tuple(int(v) for v in composite.split(","))
    except ValueError:
        chosen = ()
    if len(chosen) != 3:
        raise EdgeError(f"--composite takes three layer numbers such as 0,1,2, not {composite!r}")
    artefact = load_artefact(model or default_model_dir())
    runner = ConversionLayers(artefact, backend, max_pixels)
    layers = runner.dequantize(runner(read_image(image, "RGB")))
    names = (artefact.manifest.conversion or {}).get("layer_names") or [str(i) for i in range(layers.shape[2])]
    written = save_conversion_pictures(layers, names, output, chosen)
    h, w, k = layers.shape
    click.echo(f"{image}: {k} conversion layers at {w}x{h} ({backend}) -> {len(written)} pictures in {output}/")
