"""A host service that embeds the ledger: it sends an order confirmation over WhatsApp, records
the send in the same transaction as its own order row, and receives the provider's webhooks.

    LEDGER_WEBHOOK_SECRET=... LEDGER_API_TOKEN=... uvicorn examples.fastapi_host:app

The ledger-specific lines end with a ``# ledger`` comment (9 of them).  Everything else is the host's own code:
its engine, its table, its call to the provider's send API (faked here).
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from sqlalchemy import Column, Integer, MetaData, String, Table, create_engine, insert, select
from sqlalchemy.orm import Session

from ledger import Ledger  # ledger
from ledger.http import Receiver, ServerSettings  # ledger

engine = create_engine(os.environ.get("SHOP_DATABASE_URL", "sqlite:///shop.db"))
orders = Table("orders", MetaData(), Column("id", Integer, primary_key=True), Column("message_id", String(64)))
orders.metadata.create_all(engine)

secret, token = os.environ["LEDGER_WEBHOOK_SECRET"], os.environ["LEDGER_API_TOKEN"]
receiver = Receiver(ServerSettings(url=engine, secret=secret, api_token=token))  # ledger
ledger = Ledger.open(engine)  # ledger: for writes in the host's own transactions


@asynccontextmanager
async def lifespan(_: FastAPI) -> AsyncIterator[None]:
    yield
    ledger.close()  # ledger


app = FastAPI(lifespan=lifespan)
app.include_router(receiver.router, prefix="/ledger")  # ledger: webhooks, reads, health


def send_whatsapp(phone: str, template: str) -> str:
    """The provider's send API (faked): it answers with the new message's id."""
    return f"wamid-{uuid.uuid4().hex}"


@app.post("/orders/{order_id}/confirm")
def confirm(order_id: int, phone: str) -> dict[str, str]:
    message_id = send_whatsapp(phone, "order_confirmation")
    with Session(engine) as session, session.begin(), ledger.joined(session):  # ledger: all or nothing
        ledger.record_sent(message_id, recipient=phone, campaign="order-confirmations")  # ledger
        session.execute(insert(orders).values(id=order_id, message_id=message_id))
    return {"message_id": message_id}


@app.get("/orders/{order_id}/delivery")
async def delivery(order_id: int) -> dict[str, object]:
    with engine.connect() as connection:
        message_id = connection.scalar(select(orders.c.message_id).where(orders.c.id == order_id))
    return (await receiver.ledger.message(str(message_id))).to_dict()  # ledger: where it stands
