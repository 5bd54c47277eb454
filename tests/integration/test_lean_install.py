"""The base install is the library: without the extras' packages it imports and ingests, and each
feature whose extra is missing says so in one line naming the extra.

A fresh virtual environment per test would take minutes, so each check runs Python in a
subprocess whose ``sitecustomize`` hides the extras' packages: an import finder placed first
refuses them as if they were not installed.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[2]

#: What the extras install (cli, server, postgres, crypto), as top-level modules.
EXTRAS_MODULES = (
    "typer",
    "rich",
    "click",
    "shellingham",
    "fastapi",
    "starlette",
    "uvicorn",
    "psycopg",
    "psycopg_binary",
    "cryptography",
)

SITECUSTOMIZE = """
import os
import sys

_HIDDEN = frozenset(os.environ["HIDDEN_MODULES"].split(","))


class _NotInstalled:
    def find_spec(self, name, path=None, target=None):
        if name.partition(".")[0] in _HIDDEN:
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None


sys.meta_path.insert(0, _NotInstalled())
"""


def run_without(hidden: tuple[str, ...], code: str, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    """``python -c code`` in ``tmp_path``, with the modules ``hidden`` impossible to import."""
    site = tmp_path / "site"
    site.mkdir(exist_ok=True)
    (site / "sitecustomize.py").write_text(SITECUSTOMIZE, encoding="utf-8")
    env = {key: value for key, value in os.environ.items() if not key.startswith("LEDGER_")}
    env |= {"PYTHONPATH": os.pathsep.join([str(site), str(ROOT)]), "HIDDEN_MODULES": ",".join(hidden)}
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_the_hidden_modules_cannot_be_imported(tmp_path: Path) -> None:
    result = run_without(EXTRAS_MODULES, "import typer", tmp_path)
    assert result.returncode == 1
    assert "ModuleNotFoundError: No module named 'typer'" in result.stderr


def test_the_library_ingests_on_sqlite_with_the_base_install_alone(tmp_path: Path) -> None:
    code = """
        import sys
        from ledger import Ledger, Status
        from ledger.connectly import delivery_status_payload
        from projections import Projections

        with Ledger.open("sqlite:///lean.db") as ledger:
            print(ledger.ingest(delivery_status_payload("m-1", Status.DELIVERED, timestamp=1641513098)).kind.value)
            print(ledger.message("m-1").status.value)
        with Projections.open("sqlite:///lean.db") as views:
            print(views.catch_up())
        print(sorted(name for name in sys.modules if name.partition(".")[0] in {HIDDEN}))
    """.replace("{HIDDEN}", repr(set(EXTRAS_MODULES)))
    result = run_without(EXTRAS_MODULES, code, tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == ["applied", "delivered", "2", "[]"]


def test_the_ledger_command_without_the_cli_extra_says_so_in_one_line(tmp_path: Path) -> None:
    result = run_without(EXTRAS_MODULES, "from ledger.cli import main; main()", tmp_path)
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr == ("error: the ledger command needs the cli extra: pip install 'delivery-ledger[cli]'\n")


def test_ledger_serve_without_the_server_extra_says_so_in_one_line(tmp_path: Path) -> None:
    code = (
        "import sys; sys.argv = ['ledger', 'serve', '--db', 'sqlite:///lean.db']; from ledger.cli import main; main()"
    )
    result = run_without(("fastapi", "starlette", "uvicorn"), code, tmp_path)
    assert result.returncode == 2
    assert len(result.stderr.splitlines()) == 1
    assert result.stderr == "error: ledger serve needs the server extra: pip install 'delivery-ledger[server]'\n"


@pytest.mark.parametrize(
    ("call", "words"),
    [
        (
            "Ledger.open('postgresql://user@127.0.0.1:1/db')",
            "the database driver 'psycopg' is not installed; PostgreSQL needs the postgres extra: "
            "pip install 'delivery-ledger[postgres]'",
        ),
        (
            "Ledger.open('sqlite://', cipher_key='A' * 44)",
            "encryption at rest (a cipher key) needs the crypto extra: pip install 'delivery-ledger[crypto]'",
        ),
    ],
)
def test_a_feature_without_its_extra_is_a_value_error_naming_the_extra(call: str, words: str, tmp_path: Path) -> None:
    code = f"""
        from ledger import Ledger
        try:
            {call}
        except ValueError as error:
            print(error)
    """
    result = run_without(EXTRAS_MODULES, code, tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout == words + "\n"


def test_a_cipher_key_from_the_environment_without_the_crypto_extra_names_it_too(tmp_path: Path) -> None:
    code = """
        import os
        os.environ["LEDGER_CIPHER_KEY"] = "A" * 44
        from ledger import Ledger
        try:
            Ledger.open("sqlite://")
        except ValueError as error:
            print(error)
    """
    result = run_without(("cryptography",), code, tmp_path)
    assert result.returncode == 0, result.stderr
    assert "needs the crypto extra" in result.stdout
