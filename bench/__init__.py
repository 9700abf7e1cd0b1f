"""Benchmarks: Hotline against baselines measured in the same run, on loopback.

``python -m bench`` (``make bench``) times handshakes and one-way bulk transfer for Hotline, stdlib
TLS 1.3 (mutual certificates) and plain TCP, prints the tables and writes ``docs/benchmarks.md``.

Timings on a shared machine are noisy, so we only ever compare numbers from the same run: every case
is repeated, the implementations take turns within each repetition, and the report keeps the best
repetition (noise only ever slows a run down).
"""
