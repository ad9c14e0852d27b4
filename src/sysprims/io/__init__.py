"""Dataset input and output (layer 4): streaming readers and atomic writers."""

from .output import atomic_output, progress
from .readers import InputError, InputInfo, detect_format, input_info, iter_column, iter_columns
from .sources import expand_inputs, prepared, readahead

__all__ = [
    "InputError",
    "InputInfo",
    "atomic_output",
    "detect_format",
    "expand_inputs",
    "input_info",
    "iter_column",
    "iter_columns",
    "progress",
    "prepared",
    "readahead",
]
