"""The store's tables. One version number; a store of another version is refused, never guessed at."""

from __future__ import annotations

SCHEMA_VERSION = 5

#: Directions of a line's transcript, as stored.
OUT = 0
IN = 1

SCHEMA = """
CREATE TABLE meta (
    key TEXT PRIMARY KEY,
    value BLOB NOT NULL
);

CREATE TABLE lines (
    id INTEGER PRIMARY KEY,
    peer TEXT NOT NULL UNIQUE,
    card BLOB NOT NULL,              -- the peer's signed card, as received (public)
    key_digest BLOB NOT NULL,        -- of the card's keys: what verification pins
    static_public BLOB NOT NULL,     -- the peer's Noise static key, for the handshake directory
    endpoints TEXT NOT NULL,         -- JSON list, tried in order
    line_key BLOB,                   -- sealed at rest
    key_created_at INTEGER,
    verified_digest BLOB,            -- the key digest the operators confirmed, NULL until then
    added_at REAL NOT NULL,
    chain_out0 BLOB NOT NULL,        -- empty-transcript heads, per direction
    chain_in0 BLOB NOT NULL,
    delivered_upto INTEGER NOT NULL DEFAULT 0  -- outbound entries up to here are marked delivered
);

-- One row per transcript entry, both directions. For outbound rows, seq and chain are NULL while
-- the entry waits in the queue, and are fixed when it is first sent (so FLASH can overtake).
CREATE TABLE messages (
    rowid INTEGER PRIMARY KEY,
    line_id INTEGER NOT NULL REFERENCES lines(id) ON DELETE CASCADE,
    direction INTEGER NOT NULL,
    id BLOB NOT NULL,
    seq INTEGER,
    kind INTEGER NOT NULL,
    precedence INTEGER NOT NULL,
    created_ms INTEGER NOT NULL,
    ref BLOB NOT NULL,
    body BLOB NOT NULL,              -- sealed at rest
    chain BLOB,
    stored_at REAL NOT NULL,
    delivered_at REAL,
    acked_at REAL,
    UNIQUE (id, direction, line_id),  -- also how a message is found by its id
    UNIQUE (line_id, direction, seq)
);
CREATE INDEX messages_queue ON messages (line_id, precedence, rowid) WHERE direction = 0 AND seq IS NULL;
CREATE TABLE events (
    rowid INTEGER PRIMARY KEY,
    line_id INTEGER REFERENCES lines(id) ON DELETE CASCADE,
    at REAL NOT NULL,
    kind TEXT NOT NULL,
    detail TEXT NOT NULL
);
CREATE INDEX events_line ON events (line_id, rowid);
"""

#: Version 2: the call log, recorded call audio for lines whose config asks for it, and documents.
CALLS = """
CREATE TABLE calls (
    rowid INTEGER PRIMARY KEY,
    line_id INTEGER NOT NULL REFERENCES lines(id) ON DELETE CASCADE,
    call_id BLOB NOT NULL UNIQUE,
    direction INTEGER NOT NULL,      -- OUT: we called, IN: they called
    started_at REAL NOT NULL,
    answered_at REAL,
    ended_at REAL,
    end_reason TEXT,
    sas_confirmed INTEGER,           -- NULL: nobody said, 1: the words matched, 0: they did not
    path TEXT,                       -- how media went: udp or tcp
    stats TEXT                       -- JSON, the call's figures when it ended
);
CREATE INDEX calls_line ON calls (line_id, rowid);
CREATE TABLE call_audio (
    rowid INTEGER PRIMARY KEY,
    call_rowid INTEGER NOT NULL REFERENCES calls(rowid) ON DELETE CASCADE,
    direction INTEGER NOT NULL,      -- OUT: what we sent, IN: what we played
    seq INTEGER NOT NULL,
    frames BLOB NOT NULL,            -- sealed at rest: a run of Opus frames
    UNIQUE (call_rowid, direction, seq)
);
-- Documents, both directions: the DOC entry in messages says what the document is, this row says
-- where its bytes stand. Inbound bytes live sealed in documents/<doc id>.in beside the store.
CREATE TABLE documents (
    rowid INTEGER PRIMARY KEY,
    line_id INTEGER NOT NULL REFERENCES lines(id) ON DELETE CASCADE,
    direction INTEGER NOT NULL,
    doc_id BLOB NOT NULL,
    message_id BLOB NOT NULL,        -- the DOC entry
    name TEXT NOT NULL,
    size INTEGER NOT NULL,
    sha256 BLOB NOT NULL,
    stored INTEGER NOT NULL DEFAULT 0,  -- in: durably stored here, out: the far end said it holds
    state TEXT NOT NULL,             -- receiving, paused, complete, failed
    detail TEXT,
    source TEXT,                     -- out: the file, its size and mtime when queued
    source_mtime INTEGER,
    created_at REAL NOT NULL,
    completed_at REAL,
    UNIQUE (doc_id, direction, line_id)
);
"""

#: Version 3: every received document's file has a random name and a random key of its own, kept
#: (the key sealed) in its row, and an entry a peer sent against the line's rules is kept in the
#: transcript, marked refused (docs/protocol.md §10.2, §13). Documents received before keep their
#: old file (``<doc id>.in``, read only, key derived from the store key); one still unfinished starts
#: over in a new file. A document id found on two inbound rows (another line reused it) cannot be
#: trusted: every such row but the first fails.
BLOB_ROWS = """
ALTER TABLE documents ADD COLUMN blob_name TEXT;  -- the file in documents/, NULL for outbound
ALTER TABLE documents ADD COLUMN blob_key BLOB;   -- sealed at rest, NULL for a legacy blob
ALTER TABLE documents ADD COLUMN blob_legacy INTEGER NOT NULL DEFAULT 0;
UPDATE documents SET blob_name = lower(hex(doc_id)) || '.in', blob_legacy = 1
    WHERE direction = 1 AND rowid = (SELECT MIN(rowid) FROM documents AS d WHERE d.doc_id = documents.doc_id
    AND d.direction = 1);
UPDATE documents SET state = 'failed', stored = 0,
    detail = 'its document id was also used on another line: its bytes cannot be trusted'
    WHERE direction = 1 AND blob_name IS NULL;
CREATE UNIQUE INDEX documents_blob ON documents (blob_name);
CREATE INDEX documents_doc_id ON documents (doc_id);
ALTER TABLE messages ADD COLUMN refused TEXT;     -- why a peer's entry was refused, NULL when taken
"""

#: Version 4: every line has a profile (docs/protocol.md §3.8), fixed when the line is made and the
#: same at both ends; the lines of an older store were all ``standard``. Which names are valid is the
#: code's to say (:func:`hotline.proto.suites.suite`), not a CHECK: a later profile needs no rebuild.
LINE_PROFILES = """
ALTER TABLE lines ADD COLUMN profile TEXT NOT NULL DEFAULT 'standard';
"""

#: Version 5 (documents follow the line's profile, docs/protocol.md §13): a document row says which hash
#: its digest is (``digest``, once ``sha256``: every row before this version is SHA-256) and which AEAD
#: seals its file at rest (every file before this version is ChaCha20-Poly1305). Self-contained: it
#: touches the documents table alone.
DOC_HASHES = """
ALTER TABLE documents RENAME COLUMN sha256 TO digest;
ALTER TABLE documents ADD COLUMN hash TEXT NOT NULL DEFAULT 'SHA256';
ALTER TABLE documents ADD COLUMN blob_aead TEXT NOT NULL DEFAULT 'ChaChaPoly'
"""

#: What takes a store of version N - 1 to version N.
MIGRATIONS = {2: CALLS, 3: BLOB_ROWS, 4: LINE_PROFILES, 5: DOC_HASHES}
SCHEMA += CALLS
SCHEMA += BLOB_ROWS
SCHEMA += LINE_PROFILES
SCHEMA += DOC_HASHES + ";"

#: A transcript entry's columns, in the order :class:`hotline.store.db.MessageRow` takes them.
MESSAGE_COLUMNS = (
    "rowid, line_id, direction, id, seq, kind, precedence, created_ms, ref, body, chain, "
    "stored_at, delivered_at, acked_at"
)

__all__ = [
    "DOC_HASHES",
    "IN",
    "LINE_PROFILES",
    "MESSAGE_COLUMNS",
    "MIGRATIONS",
    "OUT",
    "SCHEMA",
    "SCHEMA_VERSION",
]
