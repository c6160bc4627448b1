"""Sessions: the manager, the per-session state machine and supervisor, leases, recovery."""
