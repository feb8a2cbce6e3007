"""A small multinomial logistic regression, trained offline and shipped as data.

The learned parts of enrichment (which candidate entities to keep, the main topic) are linear models
over named features: cheap to apply (a dot product per decision, far below NER's cost), readable
(each weight belongs to a named feature), and trained by a script from the hand-annotated gold
sets, never at run time. Features are given as {name: value} mappings; a feature the model does not
know is ignored and a missing one counts as 0, so models and feature extractors can grow apart
without breaking each other. Values are standardised with the training set's mean and deviation.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

Features = Mapping[str, float]


@dataclass(frozen=True, slots=True)
class LinearModel:
    """Weights per class over named, standardised features."""

    classes: tuple[str, ...]
    features: tuple[str, ...]
    mean: tuple[float, ...]
    scale: tuple[float, ...]
    weights: tuple[tuple[float, ...], ...]  # one row per class
    bias: tuple[float, ...]
    about: str = ""

    def _vector(self, features: Features) -> np.ndarray:
        x = np.array([float(features.get(name, 0.0)) for name in self.features])
        standardised: np.ndarray = (x - np.array(self.mean)) / np.array(self.scale)
        return standardised

    def probabilities(self, features: Features) -> dict[str, float]:
        """The probability of each class for one example."""
        logits = np.array(self.weights) @ self._vector(features) + np.array(self.bias)
        return dict(zip(self.classes, _softmax(logits).tolist(), strict=True))

    def as_dict(self) -> dict[str, Any]:
        return {"about": self.about, "classes": list(self.classes), "features": list(self.features),
                "mean": [round(v, 6) for v in self.mean], "scale": [round(v, 6) for v in self.scale],
                "weights": [[round(v, 6) for v in row] for row in self.weights],
                "bias": [round(v, 6) for v in self.bias]}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> LinearModel:
        return cls(tuple(data["classes"]), tuple(data["features"]), tuple(data["mean"]),
                   tuple(data["scale"]), tuple(tuple(row) for row in data["weights"]),
                   tuple(data["bias"]), str(data.get("about", "")))

    @classmethod
    def from_file(cls, path: str | Path) -> LinearModel:
        return cls.from_dict(json.loads(Path(path).read_text(encoding="utf-8")))


def _softmax(logits: np.ndarray) -> np.ndarray:
    shifted: np.ndarray = np.exp(logits - logits.max(axis=-1, keepdims=True))
    normalised: np.ndarray = shifted / shifted.sum(axis=-1, keepdims=True)
    return normalised


def _adam(parameters: tuple[np.ndarray, ...], gradients: Callable[[], tuple[np.ndarray, ...]],
          steps: int, learning_rate: float) -> None:
    """Full-batch Adam (the usual 0.9 / 0.999 moments), updating `parameters` in place; `gradients`
    reads them as they stand and returns one gradient per parameter."""
    moments = [(np.zeros_like(p), np.zeros_like(p)) for p in parameters]
    for step in range(1, steps + 1):
        for parameter, grad, (first, second) in zip(parameters, gradients(), moments, strict=True):
            first[:] = 0.9 * first + 0.1 * grad
            second[:] = 0.999 * second + 0.001 * grad * grad
            corrected = first / (1 - 0.9 ** step), second / (1 - 0.999 ** step)
            parameter -= learning_rate * corrected[0] / (np.sqrt(corrected[1]) + 1e-8)


def train(examples: Sequence[Features], labels: Sequence[str], *, l2: float = 1.0,
          classes: Sequence[str] | None = None, weights: Sequence[float] | None = None,
          steps: int = 2000, learning_rate: float = 0.1, about: str = "") -> LinearModel:
    """Fit by full-batch gradient descent (Adam) on the mean cross-entropy plus `l2` / n times the
    squared weights. `weights`: per-example weights (e.g. to balance classes). Deterministic."""
    names = tuple(sorted({name for example in examples for name in example}))
    classes = tuple(classes or sorted(set(labels)))
    x = np.array([[float(example.get(name, 0.0)) for name in names] for example in examples])
    mean = x.mean(axis=0)
    scale = x.std(axis=0)
    scale[scale == 0] = 1.0
    x = (x - mean) / scale
    index = {label: i for i, label in enumerate(classes)}
    y = np.zeros((len(labels), len(classes)))
    y[np.arange(len(labels)), [index[label] for label in labels]] = 1.0
    sample = np.ones(len(labels)) if weights is None else np.array(weights, dtype=float)
    sample = sample / sample.sum()
    w = np.zeros((len(classes), len(names)))
    b = np.zeros(len(classes))
    penalty = l2 / len(labels)

    def gradients() -> tuple[np.ndarray, np.ndarray]:
        error = (_softmax(x @ w.T + b) - y) * sample[:, None]
        return error.T @ x + 2 * penalty * w, error.sum(axis=0)

    _adam((w, b), gradients, steps, learning_rate)
    return LinearModel(classes, names, tuple(mean.tolist()), tuple(scale.tolist()),
                       tuple(tuple(row) for row in w.tolist()), tuple(b.tolist()), about)


def train_shared(examples: Sequence[Features], labels: Sequence[str], *, kinds: Sequence[str],
                 classes: Sequence[str], l2: float = 1.0, weights: Sequence[float] | None = None,
                 steps: int = 2000, learning_rate: float = 0.05, about: str = "") -> LinearModel:
    """A conditional logit: the features are named `f"{kind}|{class}"` (the evidence of one kind for
    one class) and every class weighs a kind alike (one weight per kind, a bias per class), so a
    few hundred examples fit 17 classes without a weight per class and feature to learn. Returned
    as a LinearModel (each class's row holds the shared weights at its own features), applied as
    any other. Standardised per kind over all classes; fitted as `train`. Deterministic."""
    classes = tuple(classes)
    x = np.array([[[float(example.get(f"{kind}|{c}", 0.0)) for kind in kinds] for c in classes]
                  for example in examples])  # examples x classes x kinds
    mean = x.reshape(-1, len(kinds)).mean(axis=0)
    scale = x.reshape(-1, len(kinds)).std(axis=0)
    scale[scale == 0] = 1.0
    x = (x - mean) / scale
    index = {label: i for i, label in enumerate(classes)}
    y = np.zeros((len(labels), len(classes)))
    y[np.arange(len(labels)), [index[label] for label in labels]] = 1.0
    sample = np.ones(len(labels)) if weights is None else np.array(weights, dtype=float)
    sample = sample / sample.sum()
    w = np.zeros(len(kinds))
    b = np.zeros(len(classes))
    penalty = l2 / len(labels)

    def gradients() -> tuple[np.ndarray, np.ndarray]:
        error = (_softmax(x @ w + b) - y) * sample[:, None]
        return np.einsum("nc,nck->k", error, x) + 2 * penalty * w, error.sum(axis=0) + 2 * penalty * b

    _adam((w, b), gradients, steps, learning_rate)
    names = tuple(f"{kind}|{c}" for c in classes for kind in kinds)
    k = len(kinds)
    rows = tuple(tuple(float(w[m % k]) if m // k == ci else 0.0 for m in range(len(names)))
                 for ci in range(len(classes)))
    return LinearModel(classes, names, tuple(float(mean[m % k]) for m in range(len(names))),
                       tuple(float(scale[m % k]) for m in range(len(names))), rows,
                       tuple(b.tolist()), about)
