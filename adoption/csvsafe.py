"""CSV export safety and streaming helpers (pure Python: no Django, no I/O).

Formula injection (CWE-1236, OWASP "CSV Injection", ASVS 5.0 1.2.10): a spreadsheet evaluates a
cell whose text starts with ``=``, ``+``, ``-``, ``@`` (and, depending on the application, TAB,
CR, NUL, ``|`` or ``%``). :func:`safe_cell` prefixes such text with a single quote ``'`` so it is
read as text. Rules:

- a string is escaped when its first character is a trigger (``= + - @ | %``, TAB, CR, NUL, or
  the full-width ``＝ ＋ － ＠``), or when its first non-whitespace character is one of
  ``= + - @ | %`` or full-width ``＝ ＋ － ＠`` (some importers trim leading blanks);
- except when the string is a plain number: an optional ``-``, ASCII digits and at most one
  decimal point (``-1.5``, ``-.5``, ``42``), nothing else, not even blanks (`` -1`` becomes
  ``' -1``). ``+2`` and ``-3e-4`` are escaped: that keeps the set of strings left alone inside
  defusedcsv's own notion of a number, so its writer never changes a cell we produce;
- int / float / Decimal values are returned unchanged (the CSV writer leaves them unquoted) when
  finite; NaN and infinities are written as text (``nan``, ``inf``, ``'-inf``).

Why not defusedcsv alone: its escaping (private ``_escape``) misses TAB, CR, NUL and blanks in
front of a trigger, and rewrites every ``|`` inside an escaped value to ``\\|`` (changing the
data, which the leading ``'`` already makes inert). So :func:`safe_cell` does the escaping, and
:func:`stream_csv` still writes through ``defusedcsv.csv.writer`` as a second layer, which is a
no-op on :func:`safe_cell`'s output (a test checks that).

The stream quotes every text cell (``csv.QUOTE_NONNUMERIC``) so that a spreadsheet splitting on
another delimiter (``;`` in many locales) cannot start a new cell inside a value; numbers stay
unquoted and so remain numbers.
"""

from __future__ import annotations

import csv
import enum
import math
import re
import unicodedata
from collections.abc import Iterable, Iterator, Sequence
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Protocol, cast

from defusedcsv import csv as _defusedcsv  # type: ignore[import-untyped, unused-ignore]

__all__ = [
    "BOM",
    "Cell",
    "Echo",
    "FORMULA_TRIGGERS",
    "export_filename",
    "is_plain_number",
    "safe_cell",
    "stream_csv",
]

#: What :func:`safe_cell` returns: text for the CSV, or a finite number written as is.
Cell = str | int | float | Decimal

#: UTF-8 byte-order mark: makes Excel read the file as UTF-8 (non-ASCII tribe names).
BOM = "\ufeff"

_FULLWIDTH = "\uff1d\uff0b\uff0d\uff20"  # ＝ ＋ － ＠
#: Characters that make a spreadsheet treat a cell as a formula when they come first.
FORMULA_TRIGGERS = frozenset("=+-@|%\t\r\0" + _FULLWIDTH)
#: Triggers that still count when preceded by blanks.
_AFTER_BLANKS = frozenset("=+-@|%" + _FULLWIDTH)

_PLAIN_NUMBER = re.compile(r"-?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)")


def is_plain_number(text: str) -> bool:
    """True for text that is just a number: optional ``-``, ASCII digits, at most one ``.``."""
    return _PLAIN_NUMBER.fullmatch(text) is not None


def _needs_quote(text: str) -> bool:
    if not text or is_plain_number(text):
        return False
    return text[0] in FORMULA_TRIGGERS or text.lstrip()[:1] in _AFTER_BLANKS


def _escape_text(text: str) -> str:
    return "'" + text if _needs_quote(text) else text


def safe_cell(value: object) -> Cell:
    """One CSV cell, safe against formula injection (see the module docstring).

    - ``None`` → ``""``; ``True``/``False`` → ``"true"``/``"false"``;
    - finite int / float / Decimal → unchanged; non-finite → its text (``nan``, ``inf``, ``'-inf``);
    - enum members (Django ``TextChoices`` included) → their ``.label`` if they have one, else
      their ``.value``, then escaped like any other value;
    - ``datetime`` → ISO-8601 in UTC to the second with a ``Z`` suffix
      (``2026-06-01T12:00:00Z``); a naive datetime is taken to be UTC already;
    - ``date`` → ``date.isoformat()`` (``2026-06-01``);
    - ``bytes`` → decoded as UTF-8 (invalid bytes replaced);
    - anything else → ``str(value)``, prefixed with ``'`` when it could start a formula.
    """
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, enum.Enum):
        label = getattr(value, "label", None)
        return safe_cell(str(label) if label is not None else value.value)
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return float(value) if math.isfinite(value) else _escape_text(str(value))
    if isinstance(value, Decimal):
        return value if value.is_finite() else _escape_text(str(value))
    if isinstance(value, datetime):
        utc = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
        return utc.isoformat(timespec="seconds").removesuffix("+00:00") + "Z"
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, bytes | bytearray):
        return _escape_text(bytes(value).decode("utf-8", errors="replace"))
    return _escape_text(str(value))


class Echo:
    """A file-like object whose ``write`` returns the text (Django's streaming CSV pattern)."""

    def write(self, value: str) -> str:
        return value


class _RowWriter(Protocol):
    def writerow(self, row: Iterable[object], /) -> str: ...


def stream_csv(
    header: Sequence[str], rows: Iterable[Sequence[object]], *, bom: bool = True
) -> Iterator[str]:
    """Yield a CSV document line by line: the BOM (when ``bom``), the header, then each row.

    Every cell, header included, goes through :func:`safe_cell`. Lines end with ``\\r\\n``
    (RFC 4180). Text cells are quoted, numbers are not. Rows are consumed lazily, so the
    caller can wrap this in ``StreamingHttpResponse(stream_csv(...), content_type="text/csv")``
    over a queryset iterator.
    """
    writer = cast(_RowWriter, _defusedcsv.writer(Echo(), quoting=csv.QUOTE_NONNUMERIC))
    if bom:
        yield BOM
    yield writer.writerow([safe_cell(cell) for cell in header])
    for row in rows:
        yield writer.writerow([safe_cell(cell) for cell in row])


# Letters NFKD does not decompose into ASCII.
_TRANSLIT = str.maketrans(
    {
        "ß": "ss",
        "æ": "ae",
        "Æ": "AE",
        "œ": "oe",
        "Œ": "OE",
        "ø": "o",
        "Ø": "O",
        "đ": "d",
        "Đ": "D",
        "ð": "d",
        "Ð": "D",
        "þ": "th",
        "Þ": "TH",
        "ł": "l",
        "Ł": "L",
        "ı": "i",
    }
)
_NOT_SLUG = re.compile(r"[^a-z0-9]+")
_MAX_SCOPE = 80


def export_filename(scope: str, day: date) -> str:
    """``meshboard-<scope>-<YYYY-MM-DD>.csv`` with ``scope`` slugged to ``[a-z0-9-]``.

    Accented letters are transliterated (``Zürich`` → ``zurich``, ``Straße`` → ``strasse``),
    other non-ASCII characters are dropped, runs of anything else become one ``-``, and the
    slug is trimmed of ``-`` and cut to 80 characters. An empty result becomes ``all``.
    """
    ascii_text = (
        unicodedata.normalize("NFKD", scope.translate(_TRANSLIT))
        .encode("ascii", "ignore")
        .decode("ascii")
    )
    slug = _NOT_SLUG.sub("-", ascii_text.lower()).strip("-")
    slug = slug[:_MAX_SCOPE].rstrip("-") or "all"
    return f"meshboard-{slug}-{day.year:04d}-{day.month:02d}-{day.day:02d}.csv"
