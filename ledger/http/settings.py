"""How the HTTP receiver runs (:class:`ServerSettings`), and what it tells the operator at start-up."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

import sqlalchemy
from sqlalchemy.engine import URL, Engine

from ledger.connectly import MAX_PAYLOAD_BYTES
from ledger.databases import Database
from ledger.urls import database_url

WEBHOOK_PATH = "/webhooks/connectly/delivery-status"


@dataclass(frozen=True, slots=True)
class ServerSettings:
    """How the receiver runs.

    ``url`` is a URL (a string or ``sqlalchemy.URL``) or a host's ``Engine``; ``None``
    reads ``LEDGER_DATABASE_URL``, else uses the default file.  ``secret`` checks the
    webhooks' signatures (``None``: unchecked); ``api_token`` guards the reads and
    ``POST /messages/sent`` (``None``: open); ``max_batch`` and ``max_wait`` (seconds)
    bound one group commit.  ``catch_up``: each read of the views (failures, summary,
    the message list) first applies what is new in the log; turn it off where a
    ``ledger project --follow`` process keeps them current (reads are then as fresh as
    that process, and receivers never contend for the views).  ``metrics``: count and serve
    Prometheus metrics at ``/metrics`` (off: neither, for the load test's comparison).
    ``dashboard``: serve the web pages at ``/`` and ``/dashboard/...`` (see
    :mod:`ledger.http.dashboard`); a host with its own ``/`` turns them off or includes
    the receiver under a prefix.
    """

    url: Database = None
    secret: str | None = None
    api_token: str | None = None
    webhook_path: str = WEBHOOK_PATH
    max_body: int = MAX_PAYLOAD_BYTES
    max_batch: int = 500
    max_wait: float = 0.002
    catch_up: bool = True
    meta_app_secret: str | None = None
    meta_verify_token: str | None = None
    twilio_auth_token: str | None = None
    twilio_url: str | None = None
    metrics: bool = True
    dashboard: bool = True

    def __post_init__(self) -> None:
        if (self.twilio_auth_token is None) != (self.twilio_url is None):
            raise ValueError("Twilio's route needs both its auth token and its public URL (what Twilio signs)")
        if not self.webhook_path.startswith("/"):
            raise ValueError(f"the webhook path must start with '/': {self.webhook_path!r}")
        url = self.database.url if isinstance(self.database, Engine) else sqlalchemy.make_url(self.database_url)
        if url.get_backend_name() == "sqlite" and (url.database in (None, "", ":memory:") or "mode=memory" in str(url)):
            raise ValueError("an in-memory database loses what the server acknowledged; give a file or PostgreSQL")

    @property
    def database(self) -> str | Engine:
        """What the ledger opens: the host's engine, or the URL."""
        return self.url if isinstance(self.url, Engine) else self.database_url

    @property
    def database_url(self) -> str:
        """The URL of the database (an engine's with its password)."""
        if isinstance(self.url, Engine):
            return self.url.url.render_as_string(hide_password=False)
        if isinstance(self.url, URL):
            return self.url.render_as_string(hide_password=False)
        return database_url(self.url)

    @property
    def display_url(self) -> str:
        """The URL of the database, with any password hidden."""
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
