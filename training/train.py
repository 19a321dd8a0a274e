"""From a dataset to the model artefact: model.tflite, conversion.tflite, model.keras, manifest.json."""

from __future__ import annotations

import datetime as dt
import sys
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from edge_service.conversion import ConversionMatrix
from edge_service.manifest import MODEL_FILE, Manifest, sha256_of
from training.augment import Recipe, recipe_for
from training.datasets import load_dataset
from training.errors import TrainingError


@dataclass
class TrainOptions:
    dataset: str = "digits"
    preset: str = "seed"
    output: Path | None = None       # default models/<dataset>
    size: tuple[int, int] | None = None  # default: the dataset's own
    channels: int | None = None
    limit: int | None = None
    data_dir: Path | None = None     # where Fashion-MNIST's files are
    conversion: str = "pca"          # a fitted or fixed method, or a matrix .json / .csv path
    components: int = 8
    patch: int = 3
    fine_tune_conversion: bool = False
    seed: int = 0
    # None: the dataset's recipe (training.augment.RECIPES), else the plain defaults.
    epochs: int | None = None
    batch_size: int | None = None
    dropout: float | None = None
    augment: str | None = None
    schedule: str | None = None
    calibration_samples: int | None = None

    def recipe(self) -> Recipe:
        base = recipe_for(self.dataset)
        given = {k: getattr(self, k) for k in ("epochs", "batch_size", "dropout", "augment", "schedule",
                                               "calibration_samples") if getattr(self, k) is not None}
        return replace(base, **given)


def say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def train(opts: TrainOptions) -> Manifest:
    """Trains, quantizes, evaluates and writes the artefact; returns its manifest."""
    import importlib.util
    if importlib.util.find_spec("tensorflow") is None:  # said before anything is loaded or written
        raise TrainingError("unseen train needs TensorFlow, which is not installed: pip install 'unseen[train]'")
    from training.augment import learning_rate, parse_augment, training_batches
    recipe = opts.recipe()
    augment = parse_augment(recipe.augment)
    out = Path(opts.output or Path("models") / Path(opts.dataset).name)
    try:
        out.mkdir(parents=True, exist_ok=True)  # before the long work, so a bad path fails at once
    except OSError as exc:
        raise TrainingError(f"cannot create {out}: {exc.strerror}") from None
    data = load_dataset(opts.dataset, opts.size, opts.channels, opts.limit, opts.data_dir)
    say(f"dataset {data.summary()}")
    if "flip" in augment and not data.mirror:
        raise TrainingError(f"{data.name}: a mirrored image may be another class here; do not flip")
    import keras  # after every check a user can fail, so a mistake costs no TensorFlow start-up
    keras.utils.set_random_seed(opts.seed)
    conversion = make_conversion(opts, data.x_train)
    say(f"conversion matrix: {conversion.method}, K={conversion.components}, patch {conversion.patch}")

    from training.presets import build_model, every_layer_model
    batches, steps = training_batches(data.x_train, data.y_train, recipe.batch_size, augment, opts.seed)
    model = build_model(opts.preset, data.input_shape, len(data.labels), conversion,
                        opts.fine_tune_conversion, recipe.dropout, learning_rate(recipe, recipe.epochs * steps))
    say(f"training preset {opts.preset!r}: {model.count_params()} parameters, {recipe.describe()}")
    history = model.fit(batches, validation_data=(data.x_val, data.y_val), epochs=recipe.epochs, verbose=2,
                        callbacks=[keras.callbacks.EarlyStopping(patience=8, restore_best_weights=True)])
    float_pred = np.argmax(model.predict(data.x_test, batch_size=256, verbose=0), axis=1)

    from training.evaluate import class_report, int8_predictions
    from training.quantize import layer_infos, quantize_every_layer, representative_sample
    layers_model = every_layer_model(model)
    flat = quantize_every_layer(layers_model, representative_sample(
        data.x_train, recipe.calibration_samples, opts.seed), say)
    say(f"evaluating the int8 model on the {len(data.x_test)} test images")
    reports = {"float": class_report(data.y_test, float_pred, data.labels),
               "int8": class_report(data.y_test, int8_predictions(flat, data.x_test), data.labels)}

    (out / MODEL_FILE).write_bytes(flat)
    model.save(out / "model.keras")
    conversion.save(out / "conversion.json")
    (out / "labels.txt").write_text("\n".join(data.labels) + "\n")
    manifest = build_manifest(opts, recipe, data, conversion, flat, layer_infos(flat, layers_model), reports,
                              len(history.epoch))
    from training.conversion_model import add_conversion_model, add_float_model
    add_float_model(out, manifest, layers_model)
    add_conversion_model(out, manifest)
    from training.report import save_metrics_picture
    save_metrics_picture(manifest, out / "metrics.png")
    f, q = reports["float"]["accuracy"], reports["int8"]["accuracy"]
    say(f"float accuracy {f:.2%}, int8 accuracy {q:.2%} (drop {100 * (f - q):+.2f} points) "
        f"on {len(data.x_test)} test images")
    say(f"wrote {out / MODEL_FILE} ({len(flat)} bytes, {len(manifest.layers)} layer outputs), "
        f"conversion.tflite, model_float.tflite, manifest.json and metrics.png")
    return manifest


def make_conversion(opts: TrainOptions, x_train: np.ndarray) -> ConversionMatrix:
    spec = opts.conversion
    if spec.endswith(".json"):
        return ConversionMatrix.load(Path(spec))
    if spec.endswith(".csv"):
        from edge_service.conversion import matrix_from_csv
        return matrix_from_csv(Path(spec), x_train.shape[-1], opts.patch)
    from training.conversion_fit import matrix_for_method
    return matrix_for_method(spec, list(x_train[:2000]), opts.components, opts.patch, seed=opts.seed)


def build_manifest(opts, recipe, data, conversion, flat, layers, reports, epochs_run) -> Manifest:
    from edge_service.tflite_graph import read_graph
    graph = read_graph(flat)
    inp = graph.tensors[graph.inputs[0]]
    h, w, c = data.input_shape
    return Manifest(
        name=f"{data.name}-{opts.preset}",
        labels=data.labels,
        input={"name": "image", "shape": list(inp.shape), "dtype": "int8",
               "scale": inp.scale, "zero_point": inp.zero_point},
        preprocessing={"size": [h, w], "color": "gray" if c == 1 else "rgb", "fit": "letterbox",
                       "scale": 1.0 / 255.0, "invert": False, "bright_foreground": data.invert},
        layers=layers,
        model_sha256=sha256_of(flat),
        conversion=conversion.to_json(),
        training={"dataset": opts.dataset, "preset": opts.preset, "epochs": recipe.epochs,
                  "epochs_run": epochs_run, "recipe": recipe.describe(), "seed": opts.seed,
                  "split": "own test files" if data.own_split else "pooled 70/15/15",
                  "train_images": int(len(data.x_train)), "validation_images": int(len(data.x_val)),
                  "test_images": int(len(data.x_test)),
                  "float_accuracy": reports["float"]["accuracy"], "int8_accuracy": reports["int8"]["accuracy"],
                  "metrics": reports,
                  "calibration_samples": min(recipe.calibration_samples, len(data.x_train)),
                  "fine_tune_conversion": opts.fine_tune_conversion,
                  "created": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")},
    )
