"""Figures, the printed table, the JSON file and the machine they were measured on."""

from __future__ import annotations

import json
import os
import platform
import sqlite3
import sys
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import sqlalchemy


@dataclass(frozen=True, slots=True)
class Figure:
    """One measured figure, with the baseline measured in the same run and the ratio.

    ``higher_is_better`` says how to read the ratio against ``target`` (a latency is
    better lower; a throughput higher).  ``met`` is ``None`` when there is no target.
    """

    section: str
    name: str
    value: float
    unit: str
    baseline: str | None = None
    baseline_value: float | None = None
    target: float | None = None
    target_kind: str = ""  # "ratio" (value / baseline) or "value"
    higher_is_better: bool = True
    note: str = ""

    @property
    def ratio(self) -> float | None:
        if self.baseline_value is None or self.baseline_value == 0:
            return None
        return self.value / self.baseline_value

    @property
    def met(self) -> bool | None:
        if self.target is None:
            return None
        measured = self.ratio if self.target_kind == "ratio" else self.value
        if measured is None:
            return None
        return measured >= self.target if self.higher_is_better else measured <= self.target

    def to_dict(self) -> dict[str, Any]:
        return asdict(self) | {"ratio": self.ratio, "met": self.met}


def machine_info(postgres_version: str | None) -> dict[str, Any]:
    """CPU count and model, Python, SQLite and PostgreSQL versions, OS."""
    return {
        "cpu_count": os.cpu_count(),
        "cpu_model": _cpu_model(),
        "python": sys.version.split()[0],
        "python_implementation": platform.python_implementation(),
        "sqlite": sqlite3.sqlite_version,
        "sqlalchemy": sqlalchemy.__version__,
        "postgresql": postgres_version,
        "platform": platform.platform(),
    }


def print_table(title: str, figures: list[Figure]) -> None:
    """Each figure beside its baseline and ratio, grouped by section."""
    print(title)
    header = f"{'figure':<58}{'value':>14} {'unit':<10}{'baseline':>14}  {'ratio':>8}  {'target':<12}{'met':<5}"
    section = None
    for figure in figures:
        if figure.section != section:
            section = figure.section
            print(f"\n[{section}]")
            print(header)
        baseline = "" if figure.baseline_value is None else _number(figure.baseline_value)
        ratio = "" if figure.ratio is None else f"{figure.ratio:.3g}x"
        target = _target(figure)
        met = {None: "", True: "yes", False: "NO"}[figure.met]
        value = _number(figure.value)
        print(f"{figure.name:<58}{value:>14} {figure.unit:<10}{baseline:>14}  {ratio:>8}  {target:<12}{met:<5}")
        if figure.baseline:
            print(f"{'':<4}baseline: {figure.baseline}")
        if figure.note:
            print(f"{'':<4}note: {figure.note}")


def write_json(path: Path, *, machine: dict[str, Any], config: dict[str, Any], figures: list[Figure]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    document = {"machine": machine, "config": config, "figures": [figure.to_dict() for figure in figures]}
    path.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")


def _number(value: float) -> str:
    return f"{value:,.0f}" if abs(value) >= 100 else f"{value:,.3g}"


def _target(figure: Figure) -> str:
    if figure.target is None:
        return ""
    sign = ">=" if figure.higher_is_better else "<"
    suffix = "x" if figure.target_kind == "ratio" else ""
    return f"{sign} {_number(figure.target)}{suffix}"


def _cpu_model() -> str | None:
    try:
        for line in Path("/proc/cpuinfo").read_text(encoding="utf-8").splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or None
