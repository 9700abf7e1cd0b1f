"""Every kind of alert a station raises on a line: the one list, which docs/control.md explains
(``alert``: what each means and what the operator should do). A test holds the two together."""

from __future__ import annotations

from enum import StrEnum


class AlertKind(StrEnum):
    """The ``kind`` of a line's alert (a string on the control socket and in the log)."""

    #: The line's session ended, or none came up for three heartbeats.
    LINE_DOWN = "line-down"
    #: A session came up again (told and logged, not standing).
    LINE_UP = "line-up"
    #: A line test got no answer in time.
    TEST_MISSED = "test-missed"
    #: A line test's answer shows chain heads that differ.
    TEST_FAILED = "test-failed"
    #: The two transcripts disagree (a rolled-back store, a changed entry, a bad receipt).
    CHAIN_MISMATCH = "chain-mismatch"
    #: The peer skipped entries.
    GAP = "gap"
    #: A card for the peer with other keys was refused.
    KEY_CHANGED = "key-changed"
    #: A session for the line was refused (the line is not verified or has no key here).
    REFUSED = "refused"
    #: A call's words did not match.
    SAS_MISMATCH = "sas-mismatch"
    #: A call's key exchange did not check.
    CALL_BAD_KEYS = "call-bad-keys"
    #: A call offer reused an id already in the call log.
    CALL_REFUSED = "call-refused"
    #: The store could not record something of the line.
    STORE_ERROR = "store-error"
    #: A document we receive paused (the disk is full or below its reserve).
    DOCUMENT_PAUSED = "document-paused"
    #: A document failed (ours at the far end, or one of theirs here).
    DOCUMENT_FAILED = "document-failed"
    #: A document waits for the operator's approval.
    DOCUMENT_HELD = "document-held"
    #: A document over the line's document quota was refused.
    DOCUMENT_REFUSED = "document-refused"
    #: The peer broke the protocol.
    PROTOCOL = "protocol"
    #: The line is paused: the peer passed one of our quotas.
    QUOTA = "quota"
    #: A paused line takes entries again (told and logged, not standing).
    QUOTA_RESUMED = "quota-resumed"
    #: The peer withholds our entries for now.
    PEER_PAUSED = "peer-paused"
    #: The two ends run different carriers.
    CARRIER = "carrier"
    #: The two ends have different profiles.
    PROFILE_MISMATCH = "profile-mismatch"
    #: This end's profile was changed.
    PROFILE_CHANGED = "profile-changed"
    #: A fault of the station itself cost a session.
    INTERNAL = "internal"


__all__ = ["AlertKind"]
