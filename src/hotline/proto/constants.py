"""Protocol constants: those fixed by the spec (``docs/protocol.md``) and implementation defaults.

Spec constants change the wire format or the security argument and need a new protocol version;
implementation constants are defaults a station may tune (compare wireguard-go device/constants.go).
"""

# -- spec (docs/protocol.md §2, §3, §5) ---------------------------------------------------------------

#: The Noise protocol name of every Hotline handshake (docs/protocol.md §3).
PROTOCOL_NAME = "Noise_IKpsk2+hfs_25519+MLKEM768_ChaChaPoly_BLAKE2s"
#: Prologue of a first handshake; in-band rekeys bind the previous handshake hash after it.
PROLOGUE = b"hotline/1"
#: Label hashed with the responder's static key into the initiation MAC key.
MAC1_LABEL = b"hotline mac1----"
MAC_LEN = 16
TIMESTAMP_LEN = 8

#: Record header: a 2-byte big-endian length of what follows, then a 1-byte type.
RECORD_HEADER_LEN = 3
MAX_RECORD_BODY = 65535 - 1
AEAD_TAG_LEN = 16
#: Inside a transport record: 1-byte kind + 2-byte content length, then content, then zero padding.
PLAINTEXT_HEADER_LEN = 3
MAX_PLAINTEXT = MAX_RECORD_BODY - AEAD_TAG_LEN
MAX_CONTENT = MAX_PLAINTEXT - PLAINTEXT_HEADER_LEN
#: The longest single message in the stream of a session direction (docs/protocol.md §5.3).
MAX_MESSAGE_LEN = 2**20
#: The longest ``Data`` body: one message less its msgpack framing.
MAX_DATA_LEN = MAX_MESSAGE_LEN - 16
#: Transport plaintexts are padded up to the first of these sizes (docs/protocol.md §5.2).
#: Powers of two up to 8 KiB, then steps of half a power, so padding costs at most a third above
#: 8 KiB (a bulk sender fills records to the bucket anyway).
PADDING_BUCKETS = (
    64, 128, 256, 512, 1024, 2048, 4096, 8192, 12288, 16384, 24576, 32768, 49152, MAX_PLAINTEXT,
)  # fmt: skip

#: Counter limit after which a key is never used again (WireGuard's RejectAfterMessages).
REJECT_AFTER_MESSAGES = 2**60

# -- delivery (docs/protocol.md §10) -----------------------------------------------------------------

#: Entries sent and not yet receipted, at most (§10.2 rule 1).
WINDOW = 1024
#: Sessions established this close together count as "both dialled at once" (§10.2 rule 5, seconds).
TIE_WINDOW = 3.0
#: Outbound entries read back from the store per resend step (an implementation choice: §10.2 rule 3
#: only says "in order").
RESEND_BATCH = 256

# -- spec: documents (docs/protocol.md §13) -----------------------------------------------------------

#: Document ids are 16 random bytes.
DOC_ID_LEN = 16
#: Bytes of document per ``DocData`` message (and per sealed chunk at rest); the last one is shorter.
DOC_CHUNK = 64 * 1024
#: The largest document a station accepts (1 TiB).
DOC_MAX_SIZE = 2**40
#: The longest document name kept, in UTF-8 bytes.
DOC_MAX_NAME = 255
#: Length of a document's SHA-256.
DOC_HASH_LEN = 32
#: Bytes a sender may have in flight beyond what the receiver last said it has taken.
DOC_WINDOW = 4 * 2**20
#: The receiver reports what it has taken (written, not yet durable) every this many bytes.
DOC_TAKEN_EVERY = 2**20
#: The receiver makes what it holds durable (fsync, recorded, reported) every this many bytes: what a
#: crash may make it fetch again.
DOC_SYNC_EVERY = 32 * 2**20

# -- implementation defaults --------------------------------------------------------------------------

#: Start an in-band rekey this long after the current keys were made (seconds).
REKEY_AFTER_TIME = 120.0
#: Refuse to use keys older than this (seconds); the session ends if no rekey succeeded by then.
REJECT_AFTER_TIME = 180.0
#: Start a rekey after this many records under one key, in either direction.
REKEY_AFTER_RECORDS = 2**20
#: Start a rekey after this many plaintext bytes under one key.
REKEY_AFTER_BYTES = 2**30
#: Send a keepalive ping after this long without sending anything (seconds).
KEEPALIVE_INTERVAL = 10.0
#: Declare the peer gone after this many keepalive intervals with nothing received.
KEEPALIVE_MISSES = 3
#: A handshake (first or in-band) must finish within this many seconds.
HANDSHAKE_TIMEOUT = 10.0
#: First handshakes answered per peer static key: a steady rate per second and a burst (WireGuard's
#: ratelimiter allows 20 per second with a burst of 5); more are dropped unanswered (§3.7).
HANDSHAKE_RATE = 20.0
HANDSHAKE_BURST = 5
#: Initiations per source address allowed to cost a DH (§3.7). Generous: many lines of a hub may
#: come from one address (a NAT, one host), and a hub restart brings all of them back at once.
SOURCE_HANDSHAKE_RATE = 200.0
SOURCE_HANDSHAKE_BURST = 1000
#: Rekeys the peer may make a session do (answer a ``RekeyInit``, act on a ``RekeyRequest``) per
#: second, with a burst (§5.4). Honest rekeys come at most once a second (the smallest age
#: limit a station may set) or per 2^20 records or 2^30 bytes; beyond it the session ends with
#: ``RATE_LIMITED``.
REKEY_RATE = 2.0
REKEY_BURST = 10
#: Seconds a paused document waits before its receiver asks for it again (docs/protocol.md §13: "asks
#: again when it can").
DOC_RETRY_PAUSED = 5.0
