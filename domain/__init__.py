"""Pure domain model: exact decimal money and Binance Spot symbol filters (no I/O)."""
