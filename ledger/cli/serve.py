"""``ledger serve``: the HTTP receiver, run from the command line (needs the ``server`` extra)."""

from __future__ import annotations

import socket
from functools import partial
from typing import TYPE_CHECKING, Annotated

import typer

from ledger.cli import console, render
from ledger.cli.errors import ExitStatus, clear_errors, fail
from ledger.cli.options import Db
from ledger.extras import is_missing, needs

if TYPE_CHECKING:
    from ledger.http import ServerSettings


def _secret(variable: str, what: str) -> object:
    return typer.Option(envvar=variable, help=what, rich_help_panel="Other providers (each route served when set)")


MetaSecret = Annotated[str | None, _secret("LEDGER_META_APP_SECRET", "Meta app secret: serves POST /webhooks/meta.")]
MetaToken = Annotated[
    str | None, _secret("LEDGER_META_VERIFY_TOKEN", "Meta verify token: serves the GET /webhooks/meta handshake.")
]
TwilioToken = Annotated[
    str | None, _secret("LEDGER_TWILIO_AUTH_TOKEN", "Twilio auth token: serves POST /webhooks/twilio.")
]
TwilioUrl = Annotated[
    str | None, _secret("LEDGER_TWILIO_URL", "The public URL Twilio posts to (what it signs), with the token.")
]


def serve(
    host: Annotated[
        str, typer.Option(help="Address to listen on (loopback unless an API token and a secret are set).")
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    db: Db = None,
    secret: Annotated[
        str | None,
        typer.Option(envvar="LEDGER_WEBHOOK_SECRET", help="Webhook signing secret (unset: signatures unchecked)."),
    ] = None,
    api_token: Annotated[
        str | None, typer.Option(envvar="LEDGER_API_TOKEN", help="Bearer token the reads need (unset: reads open).")
    ] = None,
    webhook_path: Annotated[str, typer.Option(help="Path of the delivery_status webhook.")] = (
        "/webhooks/connectly/delivery-status"
    ),
    insecure_public: Annotated[
        bool,
        typer.Option(
            "--insecure-public", help="Allow a non-loopback --host without an API token or a secret (each is noted)."
        ),
    ] = False,
    access_log: Annotated[bool, typer.Option(help="Log every request.")] = True,
    workers: Annotated[int, typer.Option(min=1, help="Processes serving the port (more than 1 needs PostgreSQL).")] = 1,
    catch_up: Annotated[
        bool,
        typer.Option(
            help="Reads catch the views up first; --no-catch-up where `ledger project --follow` keeps them current."
        ),
    ] = True,
    meta_app_secret: MetaSecret = None,
    meta_verify_token: MetaToken = None,
    twilio_auth_token: TwilioToken = None,
    twilio_url: TwilioUrl = None,
) -> None:
    """Receive Connectly webhooks over HTTP and serve JSON reads (needs the `server` extra).

    Exit status 3 when the database cannot be opened, 4 when the address cannot be listened on.
    """
    try:
        from ledger import http
    except ImportError as error:
        if not is_missing(error, "server"):
            raise
        fail(needs("ledger serve", "server"), ExitStatus.USAGE)
    with clear_errors():
        settings = http.ServerSettings(
            url=db,
            secret=secret or None,  # An empty variable is an unset one.
            api_token=api_token or None,
            webhook_path=webhook_path,
            catch_up=catch_up,
            # An empty variable is an unset one.
            meta_app_secret=meta_app_secret or None,
            meta_verify_token=meta_verify_token or None,
            twilio_auth_token=twilio_auth_token or None,
            twilio_url=twilio_url or None,
        )
        notes = http.exposure_notes(settings, host, insecure_public=insecure_public)
        try:
            listener = http.listen(host, port, reuse_port=workers > 1)
        except OSError as error:
            fail(f"cannot listen on {host}:{port}: {error.strerror or error}", ExitStatus.CANNOT_LISTEN)
        # Announced once the database is open: a failure before is one line alone.
        announce = partial(_announce, settings, host, listener, notes, workers)
        with listener:
            http.run(settings, listener, workers=workers, access_log=access_log, announce=announce)


def _announce(settings: ServerSettings, host: str, listener: socket.socket, notes: list[str], workers: int) -> None:
    bound = listener.getsockname()[1]  # The port the OS chose, for --port 0.
    where = f"POST {settings.webhook_path} on http://{host}:{bound}, database {settings.display_url}"
    if workers > 1:
        where += f", {workers} workers"
    console.err.print(render.line("serve:", "bold", where), highlight=False, soft_wrap=True)
    for note in notes:
        console.err.print(render.line("note:", "bold yellow", note), highlight=False, soft_wrap=True)
