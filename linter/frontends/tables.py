"""Published tables whose features come in raw units, with each column's documented range.

scikit-learn bundles small data sets that tutorials train networks on directly, and their
features are on very different scales: the Boston data's TAX runs from 187 to 711 next to NOX
between 0.385 and 0.871. The data is fixed, so its columns' ranges are facts of the data set
(those its documentation gives), not guesses about a user's file: the lint names the largest,
and ``--trace`` feeds each column spread over its own range, as it feeds 0-255 pixels. Keras
ships the same Boston data (``keras.datasets.boston_housing``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from nnlint.frontends.values import RawData


@dataclass(frozen=True)
class Table:
    name: str
    columns: tuple[str, ...]
    lows: tuple[float, ...]
    highs: tuple[float, ...]

    def largest(self) -> str:
        """``TAX up to 711``: the column that reaches furthest from zero."""
        index = max(range(len(self.columns)), key=lambda i: max(abs(self.lows[i]), abs(self.highs[i])))
        low, high = self.lows[index], self.highs[index]
        return f"{self.columns[index]} up to {high:g}" if abs(high) >= abs(low) else f"{self.columns[index]} down to {low:g}"


BOSTON = Table(
    "Boston housing",
    ("CRIM", "ZN", "INDUS", "CHAS", "NOX", "RM", "AGE", "DIS", "RAD", "TAX", "PTRATIO", "B", "LSTAT"),
    (0.00632, 0.0, 0.46, 0.0, 0.385, 3.561, 2.9, 1.1296, 1.0, 187.0, 12.6, 0.32, 1.73),
    (88.9762, 100.0, 27.74, 1.0, 0.871, 8.78, 100.0, 12.1265, 24.0, 711.0, 22.0, 396.9, 37.97))

CALIFORNIA = Table(
    "California housing",
    ("MedInc", "HouseAge", "AveRooms", "AveBedrms", "Population", "AveOccup", "Latitude", "Longitude"),
    (0.4999, 1.0, 0.846, 0.333, 3.0, 0.692, 32.54, -124.35),
    (15.0001, 52.0, 141.9, 34.07, 35682.0, 1243.3, 41.95, -114.31))

WINE = Table(
    "wine",
    ("alcohol", "malic_acid", "ash", "alcalinity_of_ash", "magnesium", "total_phenols", "flavanoids",
     "nonflavanoid_phenols", "proanthocyanins", "color_intensity", "hue", "od280/od315", "proline"),
    (11.03, 0.74, 1.36, 10.6, 70.0, 0.98, 0.34, 0.13, 0.41, 1.28, 0.48, 1.27, 278.0),
    (14.83, 5.80, 3.23, 30.0, 162.0, 3.88, 5.08, 0.66, 3.58, 13.0, 1.71, 4.0, 1680.0))

_CANCER_STATS = ("radius", "texture", "perimeter", "area", "smoothness", "compactness", "concavity",
                 "concave points", "symmetry", "fractal dimension")
BREAST_CANCER = Table(
    "breast cancer",
    (*(f"mean {stat}" for stat in _CANCER_STATS), *(f"{stat} error" for stat in _CANCER_STATS),
     *(f"worst {stat}" for stat in _CANCER_STATS)),
    (6.981, 9.71, 43.79, 143.5, 0.053, 0.019, 0.0, 0.0, 0.106, 0.05,
     0.112, 0.36, 0.757, 6.802, 0.002, 0.002, 0.0, 0.0, 0.008, 0.001,
     7.93, 12.02, 50.41, 185.2, 0.071, 0.027, 0.0, 0.0, 0.156, 0.055),
    (28.11, 39.28, 188.5, 2501.0, 0.163, 0.345, 0.427, 0.201, 0.304, 0.097,
     2.873, 4.885, 21.98, 542.2, 0.031, 0.135, 0.396, 0.053, 0.079, 0.03,
     36.04, 49.54, 251.2, 4254.0, 0.223, 1.058, 1.252, 0.291, 0.664, 0.208))

#: the loaders (scikit-learn's functions; Keras' data set module) -> their table
LOADERS = {
    "sklearn.datasets.load_boston": BOSTON,
    "sklearn.datasets.fetch_california_housing": CALIFORNIA,
    "sklearn.datasets.load_wine": WINE,
    "sklearn.datasets.load_breast_cancer": BREAST_CANCER,
    "keras.datasets.boston_housing.load_data": BOSTON,
}


def raw(loader: str, node: Any, path: str) -> RawData:
    """The features ``loader`` returns: raw units, each column in its documented range."""
    table = LOADERS[loader]
    return RawData(f"{table.name} features (raw units: {table.largest()})", node, path,
                   bounds=(table.lows, table.highs), by=f"{loader.rsplit('.', 1)[-1]}() of {table.name}")
