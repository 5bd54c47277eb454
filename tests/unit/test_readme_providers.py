"""The README's mapping tables are the ones the ledger uses."""

from __future__ import annotations

from pathlib import Path

import pytest

from ledger.providers import PROVIDERS, render_mapping

README = (Path(__file__).parents[2] / "README.md").read_text(encoding="utf-8")


@pytest.mark.parametrize("provider", PROVIDERS)
def test_the_readme_prints_each_providers_mapping_table_as_it_is(provider: str) -> None:
    assert render_mapping(provider) in README  # type: ignore[arg-type]
