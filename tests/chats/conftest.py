"""neonize is imported through the transport tests' conftest (quietly, once) and its client
fixtures are shared with the chat tests."""

from tests.transport.conftest import session, transport

__all__ = ["session", "transport"]
