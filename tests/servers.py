"""A running ``ledger serve`` for the tests that speak HTTP to one: start it, wait for it, stop it.

Shared by the integration, property and browser tests.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

from ledger.http import SIGNATURE_HEADER, WEBHOOK_PATH, sign

SECRET = "webhook-secret"
TOKEN = "api-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
STARTUP_DEADLINE = 60.0


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def body_of(payload: Any) -> bytes:
    return (payload if isinstance(payload, str) else json.dumps(payload)).encode()


class Server:
    """A running ``ledger serve`` and an httpx client for it."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url
        self.http = httpx.Client(base_url=base_url, timeout=60)

    def post(self, path: str, body: bytes, *, signature: str | None = None, **headers: str) -> httpx.Response:
        signed = {SIGNATURE_HEADER: sign(SECRET, body) if signature is None else signature}
        return self.http.post(path, content=body, headers={"content-type": "application/json", **signed, **headers})

    def report(self, payload: Any, **headers: str) -> httpx.Response:
        return self.post(WEBHOOK_PATH, body_of(payload), **headers)

    def record(self, sent: Any, **headers: str) -> httpx.Response:
        """``POST /messages/sent``, with the API token unless ``headers`` say otherwise."""
        return self.http.post("/messages/sent", content=body_of(sent), headers={**AUTH, **headers})

    def get(self, path: str, **params: Any) -> httpx.Response:
        return self.http.get(path, params=params, headers=AUTH)


@contextmanager
def serving(url: str, log: Path, *args: str) -> Iterator[Server]:
    """``ledger serve`` on ``url``; stopped with SIGTERM, which must end it cleanly."""
    port = free_port()
    env = {**os.environ, "LEDGER_WEBHOOK_SECRET": SECRET, "LEDGER_API_TOKEN": TOKEN}
    command = [sys.executable, "-m", "ledger.cli", "serve", "--port", str(port), "--db", url, "--no-access-log", *args]
    with log.open("wb") as output:
        process = subprocess.Popen(command, stdout=output, stderr=subprocess.STDOUT, env=env)
        server = Server(f"http://127.0.0.1:{port}")
        try:
            wait_until_up(server, process, log)
            yield server
        finally:
            server.http.close()
            process.terminate()
            status = process.wait(timeout=120)
    # Uvicorn shuts down gracefully, then re-raises the signal: the exit status says SIGTERM.
    assert status in (0, -signal.SIGTERM), f"the server did not stop cleanly:\n{log.read_text()}"
    assert "Application shutdown complete" in log.read_text()


def wait_until_up(server: Server, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + STARTUP_DEADLINE
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"the server exited with status {process.returncode}:\n{log.read_text()}")
        try:
            if server.http.get("/healthz", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.05)  # Polling, with the deadline above.
    pytest.fail(f"the server did not answer within {STARTUP_DEADLINE} s:\n{log.read_text()}")


def poll(check: Callable[[], bool], what: str, deadline: float = 60.0) -> None:
    """Wait until ``check()`` holds, or fail after ``deadline`` seconds."""
    end = time.monotonic() + deadline
    while not check():
        if time.monotonic() > end:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.05)
