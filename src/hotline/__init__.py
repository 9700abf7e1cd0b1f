"""Hotline: a secure direct line between two stations.

The package is layered; imports only run downward:

* :mod:`hotline.crypto` wraps the primitives (the only importer of ``cryptography``);
* :mod:`hotline.proto` is the sans-IO core: pure state machines fed bytes and ``now``;
* :mod:`hotline.net` is thin asyncio glue that drives the core over real sockets;
* :mod:`hotline.cli` is the ``hotline`` command.
"""

__version__ = "0.1.0"

__all__ = ["__version__"]
