"""Which database the ledger opens when the caller names none: one rule for every entry point.

``Ledger.open``, the ``ledger`` command and the HTTP receiver all resolve a missing URL
here, so the default and the environment variable are written once.
"""

from __future__ import annotations

import os

from ledger.sql import DEFAULT_URL, normalise_url

#: The environment variable naming the database when no URL is given.
URL_VARIABLE = "LEDGER_DATABASE_URL"


def database_url(url: str | None = None) -> str:
    """``url``, else ``$LEDGER_DATABASE_URL``, else ``sqlite:///ledger.db``, normalised.

    An empty ``url`` or variable counts as unset.  Bare PostgreSQL URLs select psycopg 3
    (:func:`ledger.sql.normalise_url`); nothing else is checked here: opening the ledger
    checks the URL (:func:`ledger.sql.checked_url`).
    """
    return normalise_url(url or os.environ.get(URL_VARIABLE) or DEFAULT_URL)
