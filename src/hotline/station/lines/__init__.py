"""The lines wing: every line of the station, each one dialled, supervised and served."""
