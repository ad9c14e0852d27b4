"""``sysprims suggest build | query``: autocomplete indexes from word lists."""

from __future__ import annotations

import click
import numpy as np

from ._common import FORMATS, Timer, check_output, load_structure, stream_keys, stream_tables

ORDER = 50


@click.group("suggest")
def COMMAND() -> None:
    """Autocomplete: build an index of words with frequencies, query prefixes."""


@COMMAND.command("build")
@click.argument("input_path", metavar="WORDS")
@click.option("--column", "-c", default=None, help="column holding the words (CSV/Parquet)")
@click.option("--freq-column", default=None, help="column holding each word's frequency (default: 1 per row; repeats add up)")
@click.option("--format", "fmt", type=FORMATS, default="auto", show_default=True, help="input format (auto: by extension; text = one word per line)")
@click.option("--batch-rows", type=click.IntRange(min=1), default=1 << 20, show_default=True, help="rows per batch (memory stays bounded by this)")
@click.option("--no-casefold", is_flag=True, help="keep case (default: case-insensitive)")
@click.option("-o", "--output", required=True, help="output index file")
def build(input_path, column, freq_column, fmt, batch_rows, no_casefold, output):
    """Build an autocomplete index from WORDS (text: one word or query per line)."""
    check_output(output)
    from ..autocomplete import Autocomplete
    from ..io import detect_format

    timer = Timer()
    words: list[str] = []
    freqs: list[np.ndarray] = []
    if freq_column is None:
        for arr in stream_keys(input_path, column, fmt, batch_rows, "suggest build"):
            words.extend(arr.to_pylist())
    else:
        if detect_format(input_path, fmt) == "text":
            raise click.UsageError("--freq-column needs a CSV or Parquet input")
        if column is None:
            raise click.UsageError("--column is required with --freq-column")
        for table in stream_tables(input_path, [column, freq_column], fmt, batch_rows, "suggest build", as_string=[column]):
            words.extend(table.column(0).to_pylist())
            freqs.append(np.asarray(table.column(1).to_numpy(zero_copy_only=False), dtype=np.float64))
    bad = next((i for i, w in enumerate(words) if not isinstance(w, str)), None)
    if bad is not None:
        raise click.ClickException(f"row {bad + 1} of {input_path} holds no word ({words[bad]!r})")
    frequencies = np.concatenate(freqs) if freqs else None
    ac = Autocomplete.from_words(words, frequencies, casefold=not no_casefold)
    ac.save(output)
    click.echo(f"built {output}: {len(ac):,} distinct words from {len(words):,} rows; {timer.rate(len(words))}")


@COMMAND.command("query")
@click.argument("index_path", metavar="INDEX")
@click.argument("prefixes", nargs=-1, required=True)
@click.option("--limit", "-k", type=click.IntRange(min=1), default=10, show_default=True, help="completions per prefix")
@click.option("--scores", is_flag=True, help="print each word's frequency too")
def query(index_path, prefixes, limit, scores):
    """Print the top completions of each PREFIX."""
    from ..autocomplete import Autocomplete

    ac = load_structure(Autocomplete, index_path, "autocomplete index", mmap=True)
    for prefix in prefixes:
        if len(prefixes) > 1:
            click.echo(f"{prefix}:")
        indent = "  " if len(prefixes) > 1 else ""
        for word, freq in ac.suggest_with_scores(prefix, limit):
            click.echo(f"{indent}{word}\t{freq:g}" if scores else f"{indent}{word}")
