"""The live event stream: the events table followed in commit-safe order, fanned out to
Server-Sent Events clients (`hub.py`), with short-lived tokens for browsers (`tokens.py`)."""
