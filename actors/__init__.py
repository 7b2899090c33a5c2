"""actors: one module per supervised actor; each handler decodes a message, calls the pure
domain code and sends messages."""
