"""How the ``ledger`` command fails: one line on stderr and a documented exit status.

The statuses are listed in :mod:`ledger.cli`'s docstring and in the README.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from enum import IntEnum
from typing import Any, NoReturn

import typer
from typer.core import TyperGroup

from ledger.cli import console, render
from ledger.errors import LedgerError, LedgerNotFoundError, MessageNotFoundError, StorageError, WorkerExitedError


class ExitStatus(IntEnum):
    """The ``ledger`` command's exit statuses (see :mod:`ledger.cli`)."""

    OK = 0
    UNKNOWN_MESSAGE = 1
    USAGE = 2
    DATABASE = 3
    CANNOT_LISTEN = 4
    NOT_VERIFIED = 5
    WORKER_EXITED = 6
    INTERRUPTED = 130


def say_error(message: str) -> None:
    """``error:`` and ``message`` on stderr, literally and on one line."""
    console.err.print(render.line("error:", "bold red", message), highlight=False, soft_wrap=True)


def fail(message: str, code: int) -> NoReturn:
    """One clear line on stderr, then exit with ``code`` (an :class:`ExitStatus`).

    ``message`` is plain text, shown literally: do not escape it for Rich.
    """
    say_error(message)
    raise typer.Exit(code)


@contextmanager
def clear_errors() -> Iterator[None]:
    """Turn the errors a user can cause into one line and an exit status, never a traceback."""
    try:
        yield
    except MessageNotFoundError as error:
        fail(str(error), ExitStatus.UNKNOWN_MESSAGE)
    except LedgerNotFoundError as error:
        fail(
            f"no ledger at {error.url}: nothing was stored there yet (ingest or record-sent creates it)",
            ExitStatus.DATABASE,
        )
    except StorageError as error:
        fail(str(error), ExitStatus.DATABASE)
    except WorkerExitedError as error:
        fail(str(error), ExitStatus.WORKER_EXITED)
    except (LedgerError, ValueError, OSError) as error:
        fail(str(error), ExitStatus.USAGE)
    except KeyboardInterrupt:
        fail("interrupted", ExitStatus.INTERRUPTED)


class OneLineErrors(TyperGroup):
    """Typer's command group, showing usage errors as one line like every other failure.

    Click's own display spans several lines and repeats the offending value as typed,
    control characters and all.
    """

    def main(
        self,
        args: Any = None,
        prog_name: str | None = None,
        complete_var: str | None = None,
        standalone_mode: bool = True,
        windows_expand_args: bool = True,
        **extra: Any,
    ) -> Any:
        """Run the command; in standalone mode, exit with its status (see :class:`ExitStatus`)."""
        if not standalone_mode:
            return super().main(args, prog_name, complete_var, False, windows_expand_args, **extra)
        try:
            # Not standalone: Click's errors come back to us, and an exit status is returned.
            status = super().main(args, prog_name, complete_var, False, windows_expand_args, **extra)
        except typer.TyperException as error:  # Click's usage errors (Typer's copy of Click)
            if type(error).__name__ == "NoArgsIsHelpError":  # as Typer tells it: its message is the help
                typer.echo(error.format_message(), err=True)
            else:
                context = getattr(error, "ctx", None)
                hint = f" (see {context.command_path} --help)" if context is not None else ""
                say_error(error.format_message() + hint)
            sys.exit(int(error.exit_code))
        except typer.Abort:
            say_error("interrupted")
            sys.exit(ExitStatus.INTERRUPTED.value)
        sys.exit(int(status) if isinstance(status, int) else ExitStatus.OK.value)
