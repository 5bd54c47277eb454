"""How the HTTP receiver runs (:class:`ServerSettings`), and what it tells the operator at start-up."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

import sqlalchemy

from ledger.connectly import MAX_PAYLOAD_BYTES
from ledger.urls import database_url

WEBHOOK_PATH = "/webhooks/connectly/delivery-status"


@dataclass(frozen=True, slots=True)
class ServerSettings:
    """How the receiver runs.

    ``url`` ``None`` reads ``LEDGER_DATABASE_URL``, else uses the default file.  ``secret``
    checks request signatures (``None``: unchecked); ``api_token`` guards the reads
    (``None``: open); ``max_batch`` and ``max_wait`` (seconds) bound one group commit.
    """

    url: str | None = None
    secret: str | None = None
    api_token: str | None = None
    webhook_path: str = WEBHOOK_PATH
    max_body: int = MAX_PAYLOAD_BYTES
    max_batch: int = 500
    max_wait: float = 0.002

    def __post_init__(self) -> None:
        if not self.webhook_path.startswith("/"):
            raise ValueError(f"the webhook path must start with '/': {self.webhook_path!r}")
        url = sqlalchemy.make_url(self.database_url)
        if url.get_backend_name() == "sqlite" and (url.database in (None, "", ":memory:") or "mode=memory" in str(url)):
            raise ValueError("an in-memory database loses what the server acknowledged; give a file or PostgreSQL")

    @property
    def database_url(self) -> str:
        """The URL the ledger opens."""
        return database_url(self.url)

    @property
    def display_url(self) -> str:
        """The URL the ledger opens, with any password hidden."""
        return sqlalchemy.make_url(self.database_url).render_as_string(hide_password=True)


def exposure_notes(settings: ServerSettings, host: str, *, insecure_public: bool = False) -> list[str]:
    """What to tell the operator at start-up; ``ValueError`` when it would expose the ledger.

    Without an API token anyone who can connect reads phone numbers; without a webhook
    secret anyone who can connect posts forged statuses.  So either is allowed on a
    loopback ``host`` only, unless ``insecure_public`` says so: then a note says what it allowed.
    """
    # For each thing missing: its option, what is then open, and what anyone can then do.
    missing = []
    if settings.api_token is None:
        missing.append(("an API token", "--api-token", "reads need no token", "read phone numbers"))
    if settings.secret is None:
        missing.append(("a webhook secret", "--secret", "webhook signatures are not checked", "post forged statuses"))
    loopback = host == "localhost" or _is_loopback(host)
    if missing and not (loopback or insecure_public):
        things = " or ".join(f"{thing} ({option})" for thing, option, _, _ in missing)
        risks = " and ".join(risk for *_, risk in missing)
        raise ValueError(
            f"refusing to listen on {host} without {things}: anyone who can connect could {risks} "
            f"(set {'them' if len(missing) > 1 else 'it'}, listen on 127.0.0.1, or pass --insecure-public)"
        )
    where = "" if loopback else f" on {host}, allowed by --insecure-public"
    return [f"{state} (no {option}){where}: anyone who can connect can {risk}" for _, option, state, risk in missing]


def _is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
