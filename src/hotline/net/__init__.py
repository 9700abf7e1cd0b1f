"""asyncio adapters: thin glue that drives the sans-IO core over real sockets."""
