"""Voice calls at run time (docs/protocol.md §12)."""
