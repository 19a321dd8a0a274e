"""Training recipes and the augmented input pipeline (tf.data, so it costs no Python per image).

A recipe is what a careful practitioner sets for one dataset: epochs, batch, dropout before
the dense layers, augmentation and the learning-rate schedule. Datasets without one keep
the plain defaults, so the models trained before recipes existed are reproducible.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from training.errors import TrainingError

AUGMENTATIONS = ("flip", "shift")
SCHEDULES = ("constant", "cosine")


@dataclass(frozen=True)
class Recipe:
    epochs: int = 30
    batch_size: int = 32
    dropout: float = 0.0
    augment: str = "none"          # "none" or a '+'-joined subset of AUGMENTATIONS
    schedule: str = "constant"
    learning_rate: float = 1e-3
    calibration_samples: int = 300

    def describe(self) -> str:
        return (f"{self.epochs} epochs, batch {self.batch_size}, Adam {self.learning_rate:g} {self.schedule}, "
                f"dropout {self.dropout:g}, augmentation {self.augment}")


# Fashion-MNIST: seed 003's network overfits after about 6 epochs without these.
RECIPES = {"fashion-mnist": Recipe(epochs=30, batch_size=64, dropout=0.2, augment="flip+shift",
                                   schedule="cosine", calibration_samples=1000)}


def recipe_for(dataset: str) -> Recipe:
    return RECIPES.get(dataset, Recipe())


def parse_augment(spec: str) -> tuple[str, ...]:
    if spec in ("", "none"):
        return ()
    parts = tuple(spec.replace(",", "+").split("+"))
    unknown = [p for p in parts if p not in AUGMENTATIONS]
    if unknown:
        raise TrainingError(f"unknown augmentation {', '.join(unknown)}; choose from "
                            f"{', '.join(AUGMENTATIONS)} joined by '+', or none")
    return parts


def learning_rate(recipe: Recipe, steps: int):
    """A float, or a cosine decay over all `steps` to 2 % of the start."""
    if recipe.schedule == "constant":
        return recipe.learning_rate
    if recipe.schedule == "cosine":
        import keras
        return keras.optimizers.schedules.CosineDecay(recipe.learning_rate, decay_steps=steps, alpha=0.02)
    raise TrainingError(f"unknown schedule {recipe.schedule!r}; choose from {', '.join(SCHEDULES)}")


def training_batches(x: np.ndarray, y: np.ndarray, batch_size: int, augment: tuple[str, ...],
                     seed: int, shift: int = 2) -> tuple[object, int]:
    """(tf.data batches, steps per epoch): shuffled, each image flipped left-right half the time
    and/or moved by up to `shift` px."""
    import tensorflow as tf

    def one(image, label):
        if "flip" in augment:
            image = tf.image.random_flip_left_right(image)
        if "shift" in augment:
            # Zero padding is the background of bright-on-dark images; a crop moves the item.
            padded = tf.pad(image, [[shift, shift], [shift, shift], [0, 0]])
            image = tf.image.random_crop(padded, tf.shape(image))
        return image, label

    data = tf.data.Dataset.from_tensor_slices((x, y)).shuffle(len(x), seed=seed, reshuffle_each_iteration=True)
    if augment:
        data = data.map(one, num_parallel_calls=2)
    return data.batch(batch_size).prefetch(2), (len(x) + batch_size - 1) // batch_size
