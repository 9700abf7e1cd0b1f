"""The operator console: a Textual app that watches and works one station through its control socket.

The console is a view (style.md §5): it talks to the daemon only through :mod:`hotline.client` and
never opens the store. Run it with ``hotline console``; :class:`HotlineConsole` is the app.
"""

from hotline.console.app import HotlineConsole

__all__ = ["HotlineConsole"]
