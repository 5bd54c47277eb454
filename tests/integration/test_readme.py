"""The README's quickstart runs as written and prints what the README says it prints."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).parents[2]
README = (ROOT / "README.md").read_text(encoding="utf-8")


def _block(language: str, after: int = 0) -> tuple[str, int]:
    match = re.compile(rf"```{language}\n(.*?)```", re.DOTALL).search(README, after)
    assert match, f"no ```{language} block in the README"
    return match.group(1), match.end()


def test_the_quickstart_prints_what_the_readme_shows(tmp_path: Path) -> None:
    code, end = _block("python")
    expected, _ = _block("text", end)
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout == expected


def test_the_quickstart_example_file_is_the_readme_quickstart() -> None:
    code, _ = _block("python")
    assert (ROOT / "examples" / "quickstart.py").read_text(encoding="utf-8") == code
