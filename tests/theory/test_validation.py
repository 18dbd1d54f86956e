"""check_int: the one integer check behind depths, step counts, sizes and digits."""

from __future__ import annotations

import numpy as np
import pytest

from optnet_theory.errors import OptnetError
from optnet_theory.validation import check_int


def test_accepts_integers_in_range_and_returns_int() -> None:
    assert check_int(3, "depth", 0) == 3
    value = check_int(np.int64(5), "depth", 0, 5)
    assert value == 5 and type(value) is int


@pytest.mark.parametrize(
    ("value", "maximum", "message"),
    [
        (-1, None, "depth must be an integer >= 0, got -1"),
        (True, None, "depth must be an integer >= 0, got True"),
        (2.0, None, "depth must be an integer >= 0, got 2.0"),
        ("3", None, "depth must be an integer >= 0, got '3'"),
        (11, 10, "depth must be an integer <= 10, got 11"),
    ],
)
def test_refuses_with_the_name_and_the_accepted_range(
    value: object, maximum: int | None, message: str
) -> None:
    with pytest.raises(OptnetError) as info:
        check_int(value, "depth", 0, maximum)
    assert str(info.value) == message
