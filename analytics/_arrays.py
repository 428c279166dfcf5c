"""Argument handling shared by the physics modules: numeric inputs and matching shapes."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, TypeAlias

import numpy as np
import pandas as pd

Numeric: TypeAlias = float | Sequence[float] | np.ndarray | pd.Series
"""A float, a sequence of floats, a numpy array or a pandas Series."""

_PANDAS_TYPES = (pd.Series, pd.DataFrame)


def as_numeric(value: Any, name: str) -> Any:
    """Return ``value`` ready for numpy arithmetic: pandas and numpy objects as given, the rest as floats.

    A number comes back as a numpy float (a subclass of ``float``), a list as a float array.
    """
    if isinstance(value, (*_PANDAS_TYPES, np.ndarray)):
        return value
    try:
        array = np.asarray(value, dtype=float)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{name} must be a number or an array of numbers, not {value!r}") from exc
    return array[()] if array.ndim == 0 else array


def check_broadcastable(**values: Any) -> None:
    """Raise ValueError unless the arguments' shapes broadcast together.

    When every array argument is a pandas object they are left alone: pandas aligns them on their index.
    """
    arrays = {name: value for name, value in values.items() if np.ndim(value) > 0}
    if all(isinstance(value, _PANDAS_TYPES) for value in arrays.values()):
        return
    try:
        np.broadcast_shapes(*(np.shape(value) for value in arrays.values()))
    except ValueError as exc:
        described = ", ".join(f"{name} {np.shape(value)}" for name, value in arrays.items())
        raise ValueError(
            f"the inputs have shapes that do not match ({described}); pass arrays of the same length, "
            "or a single number for any input that is constant"
        ) from exc
