"""A small, strict reader and writer for dense ARFF files (Weka's Attribute-Relation File Format).

The AVEC 2016 release of RECOLA ships its gold standards and its feature files as ARFF. The
maintained readers do not cover what these files need: ``scipy.io.arff.loadarff`` refuses
``string`` attributes ("String attributes not supported yet"), and the corpus's first column,
``Instance_name``, is one. This module reads the dense subset of the format::

    % a comment                                  (anywhere; also blank lines)
    @relation GOLDSTANDARD                       (name may be quoted)
    @attribute Instance_name string              (name may be quoted: 'frame time')
    @attribute frameTime numeric                 numeric | real | integer | string | {a,b,c}
    @data
    dev_1,0.04,-0.022925                         values separated by ',' ; '...' or "..." quote a
                                                 value (backslash escapes inside quotes); ? = missing

Keywords are case-insensitive. Missing numeric values (``?``) become NaN, missing string or
nominal values ``None``. Sparse rows (``{0 x, 3 y}``), ``date`` and ``relational`` attributes are
refused with a clear error. Every problem raises :class:`~zoo.data._sequence.CorpusFormatError`
naming the file, the line (1-based) and, where it applies, the attribute.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from zoo.data._checks import read_text
from zoo.errors import CorpusFormatError

__all__ = ["ArffAttribute", "ArffData", "read_arff", "write_arff", "format_arff", "NUMERIC_TYPES"]

#: attribute types read as float64 columns
NUMERIC_TYPES = ("numeric", "real", "integer")
_UNSUPPORTED_TYPES = ("date", "relational")
_ATTRIBUTE_TYPE = re.compile(r"^(numeric|real|integer|string)$", re.IGNORECASE)
_SAFE_VALUE = re.compile(r"^[^\s,'\"%{}?\\]+$")


@dataclass(frozen=True)
class ArffAttribute:
    """One ``@attribute`` declaration.

    Attributes:
        name: attribute name (quotes removed).
        type: ``"numeric"``, ``"real"``, ``"integer"``, ``"string"`` or ``"nominal"``.
        values: allowed values of a nominal attribute (empty otherwise).
    """

    name: str
    type: str
    values: tuple[str, ...] = ()

    @property
    def is_numeric(self) -> bool:
        """Whether the column is read as float64."""
        return self.type in NUMERIC_TYPES


@dataclass
class ArffData:
    """Contents of one ARFF file.

    Attributes:
        relation: the ``@relation`` name.
        attributes: declarations in file order.
        columns: attribute name → column: a float64 ``(N,)`` array for numeric attributes (NaN
            where ``?``), a list of ``str | None`` for string and nominal ones.
        path: the file read (for messages).
    """

    relation: str
    attributes: list[ArffAttribute]
    columns: dict[str, np.ndarray | list[str | None]]
    path: Path | None = None
    data_lines: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))

    @property
    def names(self) -> list[str]:
        """Attribute names in file order."""
        return [a.name for a in self.attributes]

    @property
    def num_rows(self) -> int:
        """Number of data rows."""
        return len(self.data_lines)

    def numeric_matrix(self, names: Sequence[str] | None = None) -> np.ndarray:
        """Numeric columns stacked into a float64 ``(N, D)`` array.

        Args:
            names: attributes to stack (default: every numeric attribute, in file order).

        Raises:
            CorpusFormatError: a requested attribute is missing or not numeric.
        """
        if names is None:
            names = [a.name for a in self.attributes if a.is_numeric]
        by_name = {a.name: a for a in self.attributes}
        for name in names:
            if name not in by_name or not by_name[name].is_numeric:
                raise CorpusFormatError(
                    f"{self.path}: attribute {name!r} is "
                    + ("missing" if name not in by_name else f"of type {by_name[name].type}")
                    + "; a numeric attribute is needed"
                )
        if not names:
            return np.zeros((self.num_rows, 0), np.float64)
        return np.stack([np.asarray(self.columns[n], np.float64) for n in names], axis=1)

    def line_of_row(self, row: int) -> int:
        """1-based file line of data row ``row``."""
        return int(self.data_lines[row])


# --------------------------------------------------------------------------- tokenising
def _split_values(text: str, path: Path, line_no: int, separators: str = ",") -> list[tuple[str, bool]]:
    """Split a line into ``(value, was_quoted)`` tokens; quotes may be ``'`` or ``"``."""
    tokens: list[tuple[str, bool]] = []
    i, n = 0, len(text)
    while True:
        while i < n and text[i] in " \t":
            i += 1
        if i < n and text[i] in "'\"":
            quote, i, chars = text[i], i + 1, []
            while i < n and text[i] != quote:
                if text[i] == "\\" and i + 1 < n:
                    i += 1
                chars.append(text[i])
                i += 1
            if i >= n:
                raise CorpusFormatError(f"{path}: line {line_no}: unterminated {quote} quote")
            i += 1
            tokens.append(("".join(chars), True))
            while i < n and text[i] in " \t":
                i += 1
            if i < n and text[i] not in separators:
                raise CorpusFormatError(
                    f"{path}: line {line_no}: unexpected text {text[i : i + 20]!r} after a quoted value"
                )
        else:
            start = i
            while i < n and text[i] not in separators:
                i += 1
            tokens.append((text[start:i].strip(), False))
        if i >= n:
            return tokens
        i += 1  # the separator


def _strip_comment(line: str) -> str:
    """Drop a trailing ``%`` comment that is outside quotes."""
    if "%" not in line:
        return line
    quote, i = None, 0
    while i < len(line):
        ch = line[i]
        if quote:
            if ch == "\\":
                i += 1  # skip the escaped character
            elif ch == quote:
                quote = None
        elif ch in "'\"":
            quote = ch
        elif ch == "%":
            return line[:i]
        i += 1
    return line


def _parse_name_and_rest(text: str, path: Path, line_no: int) -> tuple[str, str]:
    """Split ``name rest`` where the name may be quoted."""
    text = text.strip()
    if not text:
        raise CorpusFormatError(f"{path}: line {line_no}: missing name")
    if text[0] in "'\"":
        quote = text[0]
        end = text.find(quote, 1)
        while end > 0 and text[end - 1] == "\\":
            end = text.find(quote, end + 1)
        if end < 0:
            raise CorpusFormatError(f"{path}: line {line_no}: unterminated {quote} quote in name")
        return text[1:end].replace("\\" + quote, quote), text[end + 1 :].strip()
    parts = text.split(None, 1)
    return parts[0], (parts[1].strip() if len(parts) > 1 else "")


def _parse_attribute(text: str, path: Path, line_no: int) -> ArffAttribute:
    name, type_text = _parse_name_and_rest(text, path, line_no)
    if not type_text:
        raise CorpusFormatError(f"{path}: line {line_no}, attribute {name!r}: missing type")
    if type_text.startswith("{"):
        if not type_text.endswith("}"):
            raise CorpusFormatError(f"{path}: line {line_no}, attribute {name!r}: nominal values must end with '}}'")
        values = tuple(v for v, _ in _split_values(type_text[1:-1], path, line_no))
        return ArffAttribute(name, "nominal", values)
    kind = type_text.split()[0].lower()
    if kind in _UNSUPPORTED_TYPES:
        raise CorpusFormatError(f"{path}: line {line_no}, attribute {name!r}: type {kind!r} is not supported")
    if not _ATTRIBUTE_TYPE.match(kind) or len(type_text.split()) != 1:
        raise CorpusFormatError(
            f"{path}: line {line_no}, attribute {name!r}: unknown type {type_text!r}; expected "
            "numeric, real, integer, string or {nominal values}"
        )
    return ArffAttribute(name, kind)


# --------------------------------------------------------------------------- reading
def read_arff(path: str | Path) -> ArffData:
    """Read a dense ARFF file.

    Args:
        path: the ``.arff`` file.

    Returns:
        An :class:`ArffData` with one column per attribute.

    Raises:
        CorpusFormatError: missing or unreadable file, bytes that are not UTF-8, header problems (no ``@relation``/``@attribute``/
            ``@data``, duplicate or unknown-type attributes), a data row with the wrong number of
            values, a non-numeric value in a numeric column, a value outside a nominal set, a
            sparse row — naming the file, line and attribute.
    """
    path = Path(path)
    text = read_text(path, "ARFF")
    relation: str | None = None
    attributes: list[ArffAttribute] = []
    rows: list[list[str]] = []
    row_lines: list[int] = []
    quoted_missing: set[tuple[int, int]] = set()  # ('?' in quotes is a value, not missing)
    in_data = False
    lines = text.splitlines()
    for line_no, raw in enumerate(lines, start=1):
        stripped = raw.strip()
        if not stripped or stripped.startswith("%"):
            continue
        if not in_data:
            stripped = _strip_comment(stripped).strip()
            keyword = stripped.split(None, 1)[0].lower()
            rest = stripped[len(keyword) :].strip()
            if keyword == "@relation":
                relation, _ = _parse_name_and_rest(rest, path, line_no)
            elif keyword == "@attribute":
                if relation is None:
                    raise CorpusFormatError(f"{path}: line {line_no}: @attribute before @relation")
                attribute = _parse_attribute(rest, path, line_no)
                if any(a.name == attribute.name for a in attributes):
                    raise CorpusFormatError(f"{path}: line {line_no}: attribute {attribute.name!r} declared twice")
                attributes.append(attribute)
            elif keyword == "@data":
                if not attributes:
                    raise CorpusFormatError(f"{path}: line {line_no}: @data before any @attribute")
                in_data = True
            else:
                raise CorpusFormatError(
                    f"{path}: line {line_no}: expected @relation, @attribute or @data, got {stripped[:40]!r}"
                )
            continue
        if stripped.startswith("{"):
            raise CorpusFormatError(f"{path}: line {line_no}: sparse ARFF rows are not supported")
        if "'" in stripped or '"' in stripped or "%" in stripped:
            tokens = _split_values(_strip_comment(stripped), path, line_no)
            for col, (value, quoted) in enumerate(tokens):
                if quoted and value == "?":
                    quoted_missing.add((len(rows), col))
            values = [v for v, _ in tokens]
        else:
            values = [v.strip() for v in stripped.split(",")]
        if len(values) != len(attributes):
            raise CorpusFormatError(
                f"{path}: line {line_no}: {len(values)} values, expected {len(attributes)} "
                f"(attributes {[a.name for a in attributes][:5]}" + (" ...)" if len(attributes) > 5 else ")")
            )
        rows.append(values)
        row_lines.append(line_no)
    if relation is None:
        raise CorpusFormatError(f"{path}: no @relation line (is this an ARFF file?)")
    if not in_data:
        raise CorpusFormatError(f"{path}: no @data line")
    data_lines = np.asarray(row_lines, np.int64)
    table = np.asarray(rows, dtype=str).reshape(len(rows), len(attributes))
    columns: dict[str, np.ndarray | list[str | None]] = {}
    for col, attribute in enumerate(attributes):
        cells = table[:, col]
        if attribute.is_numeric:
            columns[attribute.name] = _numeric_column(cells, attribute, path, data_lines)
        else:
            values: list[str | None] = [
                None if (c == "?" and (r, col) not in quoted_missing) else str(c) for r, c in enumerate(cells.tolist())
            ]
            if attribute.type == "nominal":
                allowed = set(attribute.values)
                for r, v in enumerate(values):
                    if v is not None and v not in allowed:
                        raise CorpusFormatError(
                            f"{path}: line {data_lines[r]}, attribute {attribute.name!r}: value "
                            f"{v!r} is not one of {list(attribute.values)}"
                        )
            columns[attribute.name] = values
    return ArffData(relation, attributes, columns, path, data_lines)


def _numeric_column(cells: np.ndarray, attribute: ArffAttribute, path: Path, data_lines: np.ndarray) -> np.ndarray:
    """Convert one column of string cells to float64 (``?`` → NaN)."""
    missing = cells == "?"
    cells = np.where(missing, "nan", cells)
    try:
        return cells.astype(np.float64)
    except ValueError:
        pass
    for row, cell in enumerate(cells.tolist()):
        try:
            float(cell)
        except ValueError:
            raise CorpusFormatError(
                f"{path}: line {data_lines[row]}, attribute {attribute.name!r}: non-numeric "
                f"value {cell!r} in a {attribute.type} column"
            ) from None
    return cells.astype(np.float64)  # pragma: no cover - float() and numpy agree


# --------------------------------------------------------------------------- writing
def _quote(value: str) -> str:
    if _SAFE_VALUE.match(value):
        return value
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def format_arff(
    relation: str,
    attributes: Sequence[tuple[str, str]],
    columns: Sequence[Sequence[str] | np.ndarray],
    float_format: str | Sequence[str] = "%.6f",
) -> str:
    """ARFF text of a table.

    Args:
        relation: the ``@relation`` name.
        attributes: ``(name, type)`` pairs, type ``numeric``/``real``/``integer``/``string``.
        columns: one column per attribute (strings for string attributes, numbers otherwise;
            NaN is written as ``?``).
        float_format: printf format of numeric values, one for all columns or one per column.

    Returns:
        The file text, ending with a newline.
    """
    if len(attributes) != len(columns):
        raise ValueError(f"{len(attributes)} attributes but {len(columns)} columns")
    lengths = {len(c) for c in columns}
    if len(lengths) > 1:
        raise ValueError(f"columns have different lengths {sorted(lengths)}")
    header = [f"@relation {_quote(relation)}", ""]
    header += [f"@attribute {_quote(name)} {kind}" for name, kind in attributes]
    header += ["", "@data"]
    formats = [float_format] * len(columns) if isinstance(float_format, str) else list(float_format)
    formatted = []
    for (_, kind), column, fmt in zip(attributes, columns, formats):
        if kind.lower() in NUMERIC_TYPES:
            values = np.asarray(column, np.float64)
            formatted.append(["?" if np.isnan(v) else fmt % v for v in values])
        else:
            formatted.append(["?" if v is None else _quote(str(v)) for v in column])
    body = [",".join(row) for row in zip(*formatted)]
    return "\n".join(header + body) + "\n"


def write_arff(
    path: str | Path,
    relation: str,
    attributes: Sequence[tuple[str, str]],
    columns: Sequence[Sequence[str] | np.ndarray],
    float_format: str | Sequence[str] = "%.6f",
) -> Path:
    """Write a table as ARFF (see :func:`format_arff`); parent folders are created."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(format_arff(relation, attributes, columns, float_format), encoding="utf-8")
    return path
