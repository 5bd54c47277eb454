"""``python -m ledger.cli``: the ``ledger`` command without its console script."""

from ledger.cli import main

main()
