"""Read models maintained from the ledger's notification log (see DESIGN §7)."""

__all__: list[str] = []
