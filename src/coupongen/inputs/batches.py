"""Validating the transactions a slice of rows at a time, so that memory holds one slice's text.

The transactions are by far the largest input. Validating them whole holds every value three
times (as read, cleaned, typed) for all lines at once. Here the files are read twice, lazily: a
first pass keeps one 64-bit hash per line (to find exact duplicates across the whole input); the
second reads slices of ``BATCH_ROWS`` lines, validates each one as `validate_transactions` does and
keeps only its typed kept rows and its quarantined rows. The result is the same `Loaded` as
validating everything at once, row for row and in the same order.
"""

from __future__ import annotations

from collections.abc import Iterator

import polars as pl

from coupongen.errors import InputError
from coupongen.inputs.contract import LINE_COL, REASON_COL, SOURCE_COL, TRANSACTIONS, InputSpec, Loaded
from coupongen.inputs.locations import InputFile
from coupongen.inputs.reading import (
    LIMITS,
    READ_ERRORS,
    ReadLimits,
    check_value_sizes,
    describe_read_error,
    exact_typed_columns,
    file_labels,
    is_empty_file,
    is_parquet,
    scan_file,
)
from coupongen.inputs.validation import validate_transactions

BATCH_ROWS = 1_000_000
"""Lines validated at a time: about 0.3 GB of text and checks at their peak."""


def _scans(
    files: list[InputFile], spec: InputSpec, delimiter: str, limits: ReadLimits, typed: frozenset[str]
) -> Iterator[tuple[InputFile, pl.LazyFrame]]:
    """Each file's lazy scan, in order; empty CSV parts among several files hold no rows."""
    for path, label in zip(files, file_labels(files), strict=True):
        if len(files) > 1 and not is_parquet(path) and is_empty_file(path):
            continue
        yield path, scan_file(path, spec, delimiter, label, limits, typed=typed)


def read_batches(
    files: list[InputFile],
    spec: InputSpec,
    delimiter: str,
    *,
    rows: int = BATCH_ROWS,
    limits: ReadLimits = LIMITS,
    typed: frozenset[str] = frozenset(),
) -> Iterator[pl.DataFrame]:
    """The rows of ``files`` as `reading.read_input` reads them, in slices of at most ``rows``;
    the columns named in ``typed`` (`reading.exact_typed_columns`) keep their Parquet type.

    For inputs without extra columns (``spec.extra_columns`` false). A reading error or a value
    past ``limits`` raises InputError naming the file, as `read_input` does.
    """
    if spec.extra_columns:
        raise ValueError(f"{spec.name}: inputs with extra columns are read whole")
    for path, lf in _scans(files, spec, delimiter, limits, typed):
        batches = iter(lf.collect_batches(chunk_size=rows))
        while True:
            try:
                frame = next(batches)
            except StopIteration:
                break
            except READ_ERRORS as e:
                raise InputError(f"{path}: {describe_read_error(path, e, delimiter)}") from e
            check_value_sizes(frame, path, spec, limits)
            yield frame


def repeated_rows(
    files: list[InputFile],
    spec: InputSpec,
    delimiter: str,
    limits: ReadLimits = LIMITS,
    typed: frozenset[str] = frozenset(),
) -> pl.Series:
    """Positions (over all files, from 0) of the lines whose hash of ``spec``'s columns is shared
    with another line: the only lines that can be exact duplicates (see `DuplicateFinder`).

    Reads the files once, keeping a hash per line; the ``typed`` columns (as in `read_batches`, the
    same for every file) are hashed as values, every NaN alike, since lines of equal text hold equal
    values. A file holding a value past ``limits`` is read again by `read_batches` for its one-line
    error, so that errors come in the order of the files.
    """
    texts = [n for n in spec.names if n not in typed]
    floats = {c.name for c in spec.columns if c.dtype == "float" and c.name in typed}
    values = [pl.col(n).fill_nan(float("nan")) if n in floats else pl.col(n) for n in spec.names]
    too_long = pl.any_horizontal(pl.col(texts).str.len_bytes() > limits.value_bytes)
    hashes = []
    for path, lf in _scans(files, spec, delimiter, limits, typed):
        try:
            part = lf.select(pl.struct(values).hash().alias("hash"), too_long.alias("long")).collect(
                engine="streaming"
            )
        except READ_ERRORS as e:
            raise InputError(f"{path}: {describe_read_error(path, e, delimiter)}") from e
        if part["long"].any():
            for _ in read_batches([path], spec, delimiter, limits=limits, typed=typed):
                pass
        hashes.append(part["hash"])
    if not hashes:
        return pl.Series("row", [], dtype=pl.UInt32)
    return _shared(pl.concat(hashes, rechunk=True))


def _shared(hashes: pl.Series) -> pl.Series:
    """Positions of the values of ``hashes`` that occur more than once, in ascending order.

    Sorted, equal hashes are neighbours: sorting ten million 64-bit hashes costs a third of a hash
    table's `is_duplicated`.
    """
    h = pl.col("hash")
    return (
        pl.DataFrame({"hash": hashes})
        .with_row_index("row")
        .sort("hash")
        .filter((h == h.shift(1)) | (h == h.shift(-1)))
        .get_column("row")
        .sort()
    )


class DuplicateFinder:
    """Marks lines that repeat an earlier line exactly, slice by slice, given the positions of the
    lines whose hash is shared (`repeated_rows`). Lines sharing a hash are compared exactly, so a
    hash collision never marks a line; only the distinct candidate lines seen so far are held.
    """

    def __init__(self, candidates: pl.Series, columns: list[str]) -> None:
        self.candidates = candidates
        self.columns = columns
        self.offset = 0
        self.seen = pl.DataFrame(schema=dict.fromkeys(columns, pl.String))

    def next(self, batch: pl.DataFrame) -> pl.Series:
        """For each row of ``batch`` (the slice after the previous one), whether it is a duplicate."""
        start, end = self.offset, self.offset + batch.height
        self.offset = end
        result = pl.repeat(False, batch.height, dtype=pl.Boolean, eager=True).alias("duplicate")
        inside = self.candidates.filter((self.candidates >= start) & (self.candidates < end)) - start
        if inside.is_empty():
            return result
        rows = batch.select(pl.col(self.columns).cast(pl.String)).gather(inside)
        both = pl.concat([self.seen, rows])
        first = both.select(pl.struct(self.columns).is_first_distinct()).to_series()
        later = ~first.slice(self.seen.height)
        self.seen = both.filter(first)
        return result.scatter(inside.filter(later), True)


def load_transactions(
    files: list[InputFile],
    delimiter: str,
    *,
    skus: pl.Series,
    customer_ids: pl.Series,
    max_amount: float,
    max_quantity: float,
    quarantined_skus: pl.Series | None = None,
    quarantined_customer_ids: pl.Series | None = None,
    rows: int = BATCH_ROWS,
) -> Loaded:
    """The transactions of ``files`` validated slice by slice (see the module's docstring); the
    arguments are those of `validate_transactions`.
    """
    # Parquet numbers and time stamps of the contract's exact types are validated as values,
    # without printing and parsing them again: the same rows kept and quarantined (tested).
    typed = exact_typed_columns(files, TRANSACTIONS)
    finder = DuplicateFinder(repeated_rows(files, TRANSACTIONS, delimiter, typed=typed), TRANSACTIONS.names)
    kept, quarantined = [], []
    for batch in read_batches(files, TRANSACTIONS, delimiter, rows=rows, typed=typed):
        part = validate_transactions(
            batch,
            skus=skus,
            customer_ids=customer_ids,
            max_amount=max_amount,
            max_quantity=max_quantity,
            quarantined_skus=quarantined_skus,
            quarantined_customer_ids=quarantined_customer_ids,
            duplicates=finder.next(batch),
        )
        kept.append(part.kept)
        quarantined.append(part.quarantined)
        del batch, part
    if not kept:
        empty = pl.DataFrame(
            schema=dict.fromkeys(TRANSACTIONS.names, pl.String)
            | {SOURCE_COL: pl.String, LINE_COL: pl.Int64, REASON_COL: pl.String}
        )
        loaded = validate_transactions(
            empty, skus=skus, customer_ids=customer_ids, max_amount=max_amount, max_quantity=max_quantity
        )
        loaded.files = files
        return loaded
    return Loaded("transactions", pl.concat(kept, rechunk=False), pl.concat(quarantined), files=files)
