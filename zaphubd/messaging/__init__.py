"""Messaging: the send path (outbox, worker, sender), inbound traffic, receipts, calls."""
