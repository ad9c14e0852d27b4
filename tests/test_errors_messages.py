"""Error messages that say what is wrong and where, and error classes that all
live in sysprims.errors (#23 item 8)."""

from __future__ import annotations

import importlib
import inspect
import pkgutil

import numpy as np
import pytest

import sysprims
from sysprims import errors
from sysprims._format import pack
from sysprims.bloom import BloomFilter
from sysprims.errors import InvalidParameterError, KeyTypeError, SysprimsError
from sysprims.ids import decode_many


def test_pack_refuses_object_arrays_with_a_sysprims_error():
    with pytest.raises(SysprimsError, match="only numeric arrays"):
        pack("bloom", {}, {"x": np.array(["a", "b"], dtype=object)})


@pytest.mark.parametrize(
    ("ids", "where", "value"),
    [
        (np.array([1, 2, -5, 3], dtype=np.int64), "ids[2]", "-5"),
        (np.array([7, 2**64 - 1], dtype=np.uint64), "ids[1]", str(2**64 - 1)),
        (np.array([[1, 2], [3, -1]], dtype=np.int64), "ids[1, 1]", "-1"),
    ],
)
def test_decode_many_names_the_bad_id_and_its_position(ids, where, value):
    with pytest.raises(InvalidParameterError) as info:
        decode_many(ids)
    assert f"{where} = {value}" in str(info.value)


def test_every_error_class_is_defined_in_errors_and_still_importable_where_it_was():
    from sysprims.autocomplete import WordTooLongError
    from sysprims.bloom import ReadOnlyFilterError
    from sysprims.io import InputError
    from sysprims.io.readers import InputError as ReaderInputError

    assert errors.ReadOnlyFilterError is ReadOnlyFilterError
    assert errors.WordTooLongError is WordTooLongError
    assert errors.InputError is InputError is ReaderInputError
    for cls in (ReadOnlyFilterError, WordTooLongError, InputError):
        assert cls.__module__ == "sysprims.errors" and cls.__name__ in errors.__all__
        assert issubclass(cls, SysprimsError)
    assert issubclass(ReadOnlyFilterError, TypeError) and issubclass(InputError, ValueError)
    assert issubclass(WordTooLongError, InvalidParameterError)


def test_no_sysprims_error_class_is_defined_outside_errors():
    outside = []
    for info in pkgutil.walk_packages(sysprims.__path__, "sysprims."):
        if info.name.startswith(("sysprims.cli", "sysprims.service", "sysprims.tour", "sysprims.bench")):
            continue  # optional dependencies (click, starlette); their errors are HTTP/CLI answers
        try:
            module = importlib.import_module(info.name)
        except ImportError:
            continue
        for _, obj in inspect.getmembers(module, inspect.isclass):
            if issubclass(obj, SysprimsError) and obj.__module__ == info.name and info.name != "sysprims.errors":
                outside.append(f"{info.name}.{obj.__name__}")
    assert outside == []


def test_a_dataframe_or_2d_array_is_told_to_pass_one_column():
    pd = pytest.importorskip("pandas")
    bf = BloomFilter.for_capacity(100, 0.01)
    df = pd.DataFrame({"user": ["a", "b"], "page": ["x", "y"]})
    for batch in (df, np.zeros((2, 2), dtype=np.int64)):
        with pytest.raises(KeyTypeError, match=r"pass one column, e\.g\. df\['user'\]") as info:
            bf.add_many(batch)
        assert "(2, 2)" in str(info.value)


def test_a_missing_value_in_a_series_is_called_missing():
    pd = pytest.importorskip("pandas")
    bf = BloomFilter.for_capacity(100, 0.01)
    cases = [
        (pd.Series(["a", np.nan, "c"]), 1),
        (pd.Series([np.nan, "a"]), 0),
        (pd.Series(["a", "b", pd.NA], dtype=object), 2),
        (pd.Series(["a", None], dtype="string"), 1),
        (["a", None], 1),
    ]
    for batch, pos in cases:
        with pytest.raises(KeyTypeError, match=rf"keys\[{pos}\] is a missing value") as info:
            bf.add_many(batch)
        assert "float: nan" not in str(info.value)
        assert bf.contains_many(["a"]).tolist() == [False]  # nothing was added
    with pytest.raises(KeyTypeError, match=r"keys\[1\] must be a str .*got int: 3"):
        bf.add_many(["a", 3])  # a present value of the wrong type keeps its message
