"""Recording in a host application's transaction: what ``Ledger.joined(session)`` does.

A host with its own SQLAlchemy ``Session`` on the ledger's database hands it to the ledger
for a block.  eventsourcing-sqlalchemy keeps the transaction its recorders write in
(``eventsourcing_sqlalchemy.datastore.transactions``, a context variable) and joins an open
one; here that transaction is the host's session, marked as a scoped session's: the
recorder neither begins, commits, rolls back nor closes it.  So the ledger's events and
rejections are written by the host's connection and commit with the host's rows, or not
at all.  The transaction is entered one level deep, which is how the store knows it is
inside a caller's transaction: the message cache is neither read nor filled in the block,
and messages written in it are forgotten (the host may still roll them back).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from eventsourcing_sqlalchemy.datastore import Transaction, transactions
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from ledger.sqlstore import SQLMessageStore


@contextmanager
def joined(store: SQLMessageStore, session: Session) -> Iterator[None]:
    """The store writes and reads through ``session`` in the block, and never ends its transaction.

    ``session`` must be bound to the store's database (``ValueError`` otherwise); the
    block cannot open inside another transaction of a ledger (``RuntimeError``).
    """
    bind = session.get_bind()
    engine = bind if isinstance(bind, Engine) else bind.engine
    if engine is not store.engine and engine.url != store.engine.url:
        raise ValueError("the host's session is bound to another database than the ledger's")
    try:
        transactions.get()
    except LookupError:
        pass
    else:
        raise RuntimeError("the ledger cannot join a host's transaction inside another of its transactions")
    transaction = Transaction(session, commit=True, lock=None, is_scoped_session=True)
    # One level deep: the recorder's own transactions nest in it (see the module docstring).
    transaction.nested_level = 1
    token = transactions.set(transaction)
    try:
        yield
    finally:
        transactions.reset(token)
