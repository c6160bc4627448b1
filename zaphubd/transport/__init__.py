"""Transports: the Transport interface, normalised events, and the two implementations."""
