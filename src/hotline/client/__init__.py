"""One async client for the station's control socket, shared by the CLI and the console.

Both interfaces are views over the daemon (style.md §5): they speak docs/control.md through
:class:`ControlClient` and never open the store. This package must not import ``hotline.station``,
``hotline.store`` or ``sqlite3`` (an import-linter contract checks it); the CLI's offline mode, which
runs the station in-process, lives in ``hotline.cli``.
"""

from hotline.client.control import MAX_LINE, ControlClient, ControlStream
from hotline.client.errors import ControlError, NotRunning

__all__ = ["MAX_LINE", "ControlClient", "ControlError", "ControlStream", "NotRunning"]
