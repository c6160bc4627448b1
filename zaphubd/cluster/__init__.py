"""Several nodes, one set of sessions: the node registry, placement and the cluster view."""
