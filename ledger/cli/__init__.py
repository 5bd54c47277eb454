"""The ``ledger`` command: a thin shell over the Ledger and its projections.

The database comes from ``--db URL`` after the subcommand, else ``--db URL`` before it,
else ``LEDGER_DATABASE_URL``, else ``sqlite:///ledger.db``.  Read commands (``status``,
``history``, ``failures``, ``summary``, ``activity``, ``rejections``), ``rebuild`` and the audit
commands (``verify``, ``seal``, ``checkpoint``) never create a database; the others
create the ledger on first use.

Text from users and stored data is printed literally: no Rich markup, control and
bidirectional characters escaped (see :mod:`ledger.cli.render`).  Every failure is one
line on stderr and an exit status (:class:`~ledger.cli.errors.ExitStatus`):

===  ==========================================================================
0    success
1    unknown message (``status``, ``history``)
2    bad usage or unreadable input: a malformed or unsupported database URL, a bad
     option value, conflicting options, a file that cannot be read
3    the database failed or cannot be reached, or holds no ledger (read commands)
4    the server cannot listen: the address is in use or not allowed (``serve`` only)
5    the history does not verify: a problem was found, or events are not chained yet
     (``verify`` only)
6    a worker process ended by itself; the others were stopped (``serve --workers``)
130  interrupted (Ctrl-C)
===  ==========================================================================

One module per group of commands: :mod:`~ledger.cli.writes`, :mod:`~ledger.cli.reads`,
:mod:`~ledger.cli.views`, :mod:`~ledger.cli.demo`, :mod:`~ledger.cli.serve` and
:mod:`~ledger.cli.audit`.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any

from ledger.extras import is_missing, needs

if TYPE_CHECKING:
    from ledger.cli.commands import app as app
    from ledger.cli.errors import ExitStatus as ExitStatus

__all__ = ["ExitStatus", "app", "main"]

#: Exit status for a missing extra: bad usage (``ExitStatus.USAGE``, which needs Typer itself).
_USAGE = 2


def main() -> None:
    """Console-script entry point: the Typer app, or one line naming the ``cli`` extra if it is missing."""
    try:
        from ledger.cli.commands import app
    except ImportError as error:
        if not is_missing(error, "cli"):
            raise
        sys.stderr.write(f"error: {needs('the ledger command', 'cli')}\n")
        raise SystemExit(_USAGE) from None
    app()


def __getattr__(name: str) -> Any:
    """``app`` and ``ExitStatus``, imported when first asked for (they need Typer)."""
    if name == "app":
        from ledger.cli.commands import app

        return app
    if name == "ExitStatus":
        from ledger.cli.errors import ExitStatus

        return ExitStatus
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
