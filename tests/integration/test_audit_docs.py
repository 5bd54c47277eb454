"""docs/audit.md's by-hand checks run as written, against a ledger the ledger wrote."""

from __future__ import annotations

import re
from pathlib import Path

from ledger import Ledger
from ledger.audit import record_checkpoint
from tests.integration.test_audit import write_history

AUDIT_MD = Path(__file__).parents[2] / "docs" / "audit.md"


def test_the_by_hand_checks_of_docs_audit_md_agree_with_the_ledger(tmp_path: Path) -> None:
    path = tmp_path / "ledger.db"
    with Ledger.open(f"sqlite:///{path}") as ledger:
        write_history(ledger)
        checkpoint = record_checkpoint(ledger.recorder)
    chain, checkpoint_check = re.findall(r"```python\n(.*?)```", AUDIT_MD.read_text(encoding="utf-8"), re.S)
    namespace: dict[str, object] = {}
    exec(chain.replace('"ledger.db"', repr(str(path))).replace("<message id>", "m-2"), namespace)
    namespace["P"] = checkpoint.position
    exec(checkpoint_check.replace("<the published root>", checkpoint.root.hex()), namespace)
    namespace["db"].close()  # type: ignore[attr-defined]
