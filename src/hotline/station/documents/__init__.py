"""Documents at run time (docs/protocol.md §13): the station's document wing."""
