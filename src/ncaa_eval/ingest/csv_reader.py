"""Typed, validated reading of one Kaggle CSV into an Arrow table.

The fast path hands the whole file to Arrow's CSV reader with explicit column types. Only when
that fails do we re-read the file as text to find the first offending row and column, so that a
user sees ``MRegularSeasonCompactResults.csv line 1207, column WScore: 'abc' is not a whole
number`` rather than Arrow's internal message.
"""

from __future__ import annotations

import csv
import io

import pyarrow as pa
import pyarrow.csv as pacsv

from ncaa_eval.errors import DataValidationError

# Kaggle's files are UTF-8; older or hand-edited copies are sometimes Windows-1252.
_FALLBACK_ENCODING = "cp1252"


_UTF16_32_BOMS = (b"\xff\xfe", b"\xfe\xff", b"\x00\x00\xfe\xff")


def _check_text(raw: bytes, name: str) -> None:
    """Reject UTF-16/32 and binary files up front: Arrow would report their header as missing."""
    if raw.startswith(_UTF16_32_BOMS):
        raise DataValidationError(
            f"{name}: the file is UTF-16 or UTF-32 text; save it as UTF-8 (as Kaggle ships it)."
        )
    nul = raw.find(b"\x00")
    if nul >= 0:
        line = raw.count(b"\n", 0, nul) + 1
        raise DataValidationError(
            f"{name} line {line}: a NUL byte; this is not a CSV text file (UTF-16 or binary?): "
            "replace it with the file from the Kaggle download."
        )


def _decode_header(raw: bytes, name: str) -> list[str]:
    _check_text(raw, name)
    first = raw.split(b"\n", 1)[0].rstrip(b"\r")
    if first.startswith(b"\xef\xbb\xbf"):
        first = first[3:]
    if not first.strip():
        raise DataValidationError(f"{name}: the file is empty; expected a CSV header line.")
    try:
        text = first.decode("utf-8")
    except UnicodeDecodeError:
        text = first.decode(_FALLBACK_ENCODING, errors="replace")
    # Only quotes are stripped: Arrow keeps spaces in column names, so " DayNum" is not DayNum.
    return [c.strip('"') for c in text.split(",")]


def read_kaggle_csv(
    raw: bytes,
    name: str,
    columns: dict[str, pa.DataType],
    *,
    nullable: frozenset[str] = frozenset(),
) -> pa.Table:
    """Parse ``raw`` (the bytes of CSV file ``name``) keeping exactly ``columns``, typed.

    Extra columns are ignored. Every column not in ``nullable`` must have a value on every row.

    Raises:
        DataValidationError: a missing column, an unparsable value or a missing value, naming
            the file, the line and the column.
    """
    header = _decode_header(raw, name)
    missing = [c for c in columns if c not in header]
    if missing:
        raise DataValidationError(
            f"{name}: missing column {', '.join(repr(c) for c in missing)}; "
            f"its header must include {', '.join(columns)}."
        )
    for encoding in ("utf8", _FALLBACK_ENCODING):
        try:
            table = pacsv.read_csv(
                io.BytesIO(raw),
                read_options=pacsv.ReadOptions(encoding=encoding),
                convert_options=pacsv.ConvertOptions(
                    column_types=columns,
                    include_columns=list(columns),
                    strings_can_be_null=True,
                    quoted_strings_can_be_null=False,
                ),
            )
            break
        except pa.ArrowInvalid as exc:
            if encoding == "utf8" and "utf8" in str(exc).lower():
                continue
            _check_decodable(raw, name)
            _raise_located_error(raw, name, columns, exc)
        except UnicodeDecodeError as exc:  # cp1252 leaves five byte values undefined
            _check_decodable(raw, name)
            raise DataValidationError(f"{name}: cannot decode the file: {exc}.") from exc
    else:  # pragma: no cover - the loop always breaks or raises
        raise DataValidationError(f"{name}: cannot decode the file as UTF-8 or Windows-1252.")
    for col in columns:
        if col in nullable:
            continue
        column = table.column(col)
        if column.null_count:
            row = next(i for i, v in enumerate(column.is_null().to_pylist()) if v)
            raise DataValidationError(
                f"{name} line {row + 2}, column {col}: the value is missing; every row needs one."
            )
    return table


def _check_decodable(raw: bytes, name: str) -> None:
    """Raise, naming the line, when ``raw`` is neither UTF-8 nor Windows-1252 text."""
    try:
        raw.decode("utf-8")
        return
    except UnicodeDecodeError:
        pass
    try:
        raw.decode(_FALLBACK_ENCODING)
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        raise DataValidationError(
            f"{name} line {line}: byte 0x{raw[exc.start]:02x} is neither UTF-8 nor "
            "Windows-1252 text; save the file as UTF-8."
        ) from exc


def _first_misshapen_row(raw: bytes, n_fields: int) -> tuple[int, str] | None:
    """(line, problem) of the first non-blank row that does not have the header's field count."""
    text = raw.decode(_FALLBACK_ENCODING, errors="replace").lstrip("\ufeff")
    reader = csv.reader(io.StringIO(text, newline=""))
    start = 1
    try:
        for row in reader:
            if row and len(row) != n_fields:
                return start, f"{len(row)} fields where the header has {n_fields}"
            start = reader.line_num + 1
    except csv.Error as exc:  # e.g. an unterminated quote swallowing the rest of the file
        return start, f"{exc} (an unterminated quote?)"
    return None


def _raise_located_error(
    raw: bytes, name: str, columns: dict[str, pa.DataType], exc: Exception
) -> None:
    """Re-read as text to name the first bad value; raise a DataValidationError."""
    try:
        raw.decode("utf-8")
        encoding = "utf8"
    except UnicodeDecodeError:  # _check_decodable has made sure cp1252 reads it
        encoding = _FALLBACK_ENCODING
    try:
        as_text = pacsv.read_csv(
            io.BytesIO(raw),
            read_options=pacsv.ReadOptions(encoding=encoding),
            convert_options=pacsv.ConvertOptions(
                column_types={c: pa.string() for c in columns}, include_columns=list(columns)
            ),
        )
    except pa.ArrowInvalid as exc2:
        # Structural damage (wrong number of fields, an unterminated quote): find the line.
        header = _decode_header(raw, name)
        where = _first_misshapen_row(raw, len(header))
        if where is not None:
            line, problem = where
            raise DataValidationError(f"{name} line {line}: malformed CSV row: {problem}.") from exc
        detail = " ".join(str(exc2).split())
        raise DataValidationError(f"{name}: malformed CSV: {detail}".rstrip(".") + ".") from exc
    for col, typ in columns.items():
        if not (pa.types.is_integer(typ) or pa.types.is_floating(typ)):
            continue
        values = as_text.column(col).to_pylist()
        for i, value in enumerate(values):
            if value is None or value.strip() == "":
                continue
            try:
                if pa.types.is_integer(typ):
                    int(value)
                else:
                    float(value)
            except ValueError:
                kind = "a whole number" if pa.types.is_integer(typ) else "a number"
                raise DataValidationError(
                    f"{name} line {i + 2}, column {col}: {value!r} is not {kind}."
                ) from exc
            if pa.types.is_integer(typ):
                bits = typ.bit_width
                if not -(2 ** (bits - 1)) <= int(value) < 2 ** (bits - 1):
                    raise DataValidationError(
                        f"{name} line {i + 2}, column {col}: {value} is out of range."
                    ) from exc
    detail = " ".join(str(exc).split())
    raise DataValidationError(f"{name}: cannot be parsed: {detail}") from exc
