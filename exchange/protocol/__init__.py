"""Binance's request protocol as a server checks it, pure and shared: the error answer,
parameters read as Binance reads them, and request signing (HMAC-SHA256, ``timestamp``,
``recvWindow``). No I/O, no state; used by the strategy gateway (``control/gateway``)."""
