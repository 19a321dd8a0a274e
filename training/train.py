"""From a dataset to the model artefact: model.tflite, model.keras, manifest.json."""

from __future__ import annotations

import datetime as dt
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from edge_service.conversion import ConversionMatrix
from edge_service.manifest import MODEL_FILE, Manifest, sha256_of
from training.datasets import load_dataset


@dataclass
class TrainOptions:
    dataset: str = "digits"
    preset: str = "seed"
    output: Path = Path("models/digits")
    epochs: int = 30
    batch_size: int = 32
    size: tuple[int, int] | None = (16, 16)
    channels: int | None = None
    limit: int | None = None
    conversion: str = "pca"          # a fitted or fixed method, or a matrix .json / .csv path
    components: int = 8
    patch: int = 3
    fine_tune_conversion: bool = False
    calibration_samples: int = 300
    seed: int = 0


def say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def train(opts: TrainOptions) -> Manifest:
    """Trains, quantizes, evaluates and writes the artefact; returns its manifest."""
    import keras

    keras.utils.set_random_seed(opts.seed)
    data = load_dataset(opts.dataset, opts.size, opts.channels, opts.limit)
    say(f"dataset {data.summary()}")
    conversion = make_conversion(opts, data.x_train)
    say(f"conversion matrix: {conversion.method}, K={conversion.components}, patch {conversion.patch}")

    from training.presets import build_model, every_layer_model
    model = build_model(opts.preset, data.input_shape, len(data.labels), conversion,
                        opts.fine_tune_conversion)
    say(f"training preset {opts.preset!r}: {model.count_params()} parameters, {opts.epochs} epochs")
    model.fit(data.x_train, data.y_train, validation_data=(data.x_val, data.y_val),
              epochs=opts.epochs, batch_size=opts.batch_size, verbose=2,
              callbacks=[keras.callbacks.EarlyStopping(patience=8, restore_best_weights=True)])
    float_acc = float(model.evaluate(data.x_test, data.y_test, verbose=0)[1])

    from training.evaluate import int8_accuracy
    from training.quantize import layer_infos, quantize_every_layer, representative_sample
    layers_model = every_layer_model(model)
    flat = quantize_every_layer(layers_model, representative_sample(
        data.x_train, opts.calibration_samples, opts.seed), say)
    say("evaluating the int8 model on the test split")
    int8_acc = int8_accuracy(flat, data.x_test, data.y_test)

    out = Path(opts.output)
    out.mkdir(parents=True, exist_ok=True)
    (out / MODEL_FILE).write_bytes(flat)
    model.save(out / "model.keras")
    conversion.save(out / "conversion.json")
    (out / "labels.txt").write_text("\n".join(data.labels) + "\n")
    manifest = build_manifest(opts, data, conversion, flat, layers_model, layer_infos(flat, layers_model),
                              float_acc, int8_acc)
    manifest.save(out)
    say(f"float accuracy {float_acc:.2%}, int8 accuracy {int8_acc:.2%} "
        f"(drop {100 * (float_acc - int8_acc):+.2f} points) on {len(data.x_test)} test images")
    say(f"wrote {out / MODEL_FILE} ({len(flat)} bytes, {len(manifest.layers)} layer outputs) and manifest.json")
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


def build_manifest(opts, data, conversion, flat, layers_model, layers, float_acc, int8_acc) -> Manifest:
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
        training={"dataset": opts.dataset, "preset": opts.preset, "epochs": opts.epochs,
                  "seed": opts.seed, "train_images": int(len(data.x_train)),
                  "test_images": int(len(data.x_test)), "float_accuracy": round(float_acc, 5),
                  "int8_accuracy": round(int8_acc, 5),
                  "calibration_samples": min(opts.calibration_samples, len(data.x_train)),
                  "fine_tune_conversion": opts.fine_tune_conversion,
                  "created": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")},
    )
