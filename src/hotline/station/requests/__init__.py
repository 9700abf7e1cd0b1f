"""What operators can ask of a station (docs/control.md): one op table, handlers by domain."""
