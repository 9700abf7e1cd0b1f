"""The selected line's transcript as the console keeps it: loaded once, then kept current by the
station's follower events (docs/control.md, "Follower events"), with no poll.

:class:`LineTranscript` takes a line's ``log`` and ``files`` when the operator selects the line (or the
console reconnects), then applies each event of the follow stream: a message that arrives, a receipt
(``delivered``), an acknowledgement (``acked``), an alert, a document's progress. Our own sends are added
from the ``send`` result. Pure state, no Textual, no sockets (tests/unit/console/test_lineview.py).

Rules we keep:

* An event may overtake the answer it concerns: a receipt may come before the ``send`` result, or
  while the ``log`` is being read. Receipts and acknowledgements heard are kept (a bounded number)
  and applied to messages that show up later; events heard while a load runs are applied again
  once it is in.
* Documents stand in the transcript by their ``document`` description (what the far end holds), with
  their DOC entry's receipt state while nothing of them has gone yet ("queued").
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from hotline.console.model import TranscriptItem, transcript
from hotline.console.text import size_text

__all__ = ["LineTranscript", "document_mark", "size_text"]

Result = Mapping[str, Any]

#: Receipts and acknowledgements remembered for messages not on screen yet.
HEARD_LIMIT = 2000


class LineTranscript:
    """One line's transcript, kept current by events. Not thread-safe; the app's event loop owns it."""

    def __init__(self, peer: str) -> None:
        """An empty transcript of the line to ``peer``, waiting for :meth:`load`."""
        #: The line.
        self.peer = peer
        #: Whether a load came in (before that, the transcript says "loading").
        self.loaded = False
        self._entries: list[dict[str, Any]] = []
        #: Message dicts of ``_entries`` by (direction, id): what events change.
        self._messages: dict[tuple[str, str], dict[str, Any]] = {}
        #: Documents by id.
        self._documents: dict[str, dict[str, Any]] = {}
        #: Receipts heard, by our message id: when.
        self._delivered: dict[str, float] = {}
        #: Acknowledgements heard, by (direction, id): when.
        self._acked: dict[tuple[str, str], float] = {}
        self._loading = False
        self._during: list[Result] = []

    # -- loading

    def begin_load(self) -> None:
        """A ``log`` request is on its way: keep the events that come meanwhile for :meth:`load`."""
        self._loading = True
        self._during = []

    def load(self, entries: Iterable[Result], documents: Iterable[Result]) -> None:
        """Take the line's ``log`` entries and ``files`` documents; the events heard meanwhile follow."""
        self._entries, self._messages, self._documents = [], {}, {}
        for entry in entries:
            self._add_entry(entry)
        for document in documents:
            if document.get("peer") == self.peer and document.get("id") is not None:
                self._documents[str(document["id"])] = dict(document)
        self.loaded, self._loading = True, False
        during, self._during = self._during, []
        for event in during:
            self.apply(event)

    # -- changes

    def add_sent(self, message: Result) -> None:
        """Our message, as ``send`` answered (it may be delivered already: a receipt can come first)."""
        if message.get("peer") == self.peer:
            if self._loading:  # the log being read may not hold it yet: added again after the load
                self._during.append({"message": message})
            self._add_entry({"at": message.get("stored_at") or 0.0, "kind": "message", "message": message})

    def apply(self, event: Result) -> bool:
        """Take one follower event; whether the transcript changed."""
        if self._loading:
            self._during.append(event)
        for kind, body in event.items():
            if not isinstance(body, Mapping) or body.get("peer") != self.peer:
                continue
            match kind:
                case "message":
                    return self._add_entry(
                        {"at": body.get("stored_at") or 0.0, "kind": "message", "message": body}
                    )
                case "delivered":
                    at = _num(body.get("at"))
                    for mid in body.get("ids") or []:
                        self._heard(self._delivered, str(mid), at)
                    return self._mark_all()
                case "acked":
                    direction = str(body.get("direction") or "out")
                    self._heard(self._acked, (direction, str(body.get("id"))), _num(body.get("at")))
                    return self._mark_all()
                case "alert":
                    self._entries.append(
                        {
                            "at": _num(body.get("at")),
                            "kind": "alert",
                            "event": body.get("kind"),
                            "detail": body.get("detail"),
                        }
                    )
                    return True
                case "document":
                    if body.get("id") is None:
                        return False
                    self._documents[str(body["id"])] = dict(body)
                    return True
        return False

    # -- reading

    def items(self) -> list[TranscriptItem]:
        """The transcript: messages, alarms and events from the log, and the documents, in time order."""
        items = transcript(self._entries)
        for doc_id, document in self._documents.items():
            direction = str(document.get("direction") or "out")
            entry = self._messages.get((direction, doc_id))
            at = _num(document.get("created_at")) or _num(entry and entry.get("created_at"))
            items.append(TranscriptItem("document", at, message=entry, document=document))
        for (_direction, mid), message in self._messages.items():
            # a document the station has no progress of yet (held for approval, say): its entry
            if message.get("kind") == "doc" and mid not in self._documents:
                at = _num(message.get("stored_at")) or _num(message.get("created_at"))
                items.append(TranscriptItem("message", at, message=message))
        items.sort(key=lambda item: item.at)
        return items

    # -- inside

    def _add_entry(self, entry: Result) -> bool:
        message = entry.get("message")
        if entry.get("kind") == "message" and isinstance(message, Mapping):
            key = (str(message.get("direction") or "in"), str(message.get("id")))
            if key in self._messages:
                return False
            copy = dict(message)
            self._messages[key] = copy
            self._entries.append({**entry, "message": copy})
            self._mark(key, copy)
            return True
        self._entries.append(dict(entry))
        return False

    def _mark_all(self) -> bool:
        changed = False
        for key, message in self._messages.items():
            changed = self._mark(key, message) or changed
        return changed

    def _mark(self, key: tuple[str, str], message: dict[str, Any]) -> bool:
        direction, mid = key
        state = message.get("state")
        acked_at = self._acked.get(key)
        if acked_at is not None and state != "acked":
            message.update(state="acked", acked_at=acked_at)
            return True
        delivered_at = self._delivered.get(mid)
        if direction == "out" and delivered_at is not None and state in ("queued", "sent"):
            message.update(state="delivered", delivered_at=delivered_at)
            return True
        return False

    @staticmethod
    def _heard(heard: dict[Any, float], key: Any, at: float) -> None:
        heard[key] = at
        if len(heard) > HEARD_LIMIT:
            for old in list(heard)[: len(heard) - HEARD_LIMIT]:
                del heard[old]


def document_mark(document: Result, entry: Result | None) -> tuple[str, str]:
    """Where a document stands, and the style to show it in.

    Ours: ``queued`` until the far end holds a byte, then the bytes it holds, then ``verified`` once
    it holds the whole document and its hash checked. Theirs: the bytes we hold, then ``complete``.
    """
    state = str(document.get("state") or "")
    stored, size = _num(document.get("stored")), _num(document.get("size"))
    share = f"{size_text(stored)} of {size_text(size)} ({int(stored * 100 / size) if size else 100} %)"
    detail = str(document.get("detail") or "")
    if state == "failed":
        return (f"✗ failed{': ' + detail if detail else ''}", "bold red")
    if state == "held":
        return ("held: accept or refuse it (`hotline file accept|refuse`)", "bold yellow")
    if state == "paused":
        return (f"‖ paused at {share}{': ' + detail if detail else ''}", "yellow")
    if document.get("direction") == "out":
        if state == "complete":
            return ("✓✓ verified at the far end", "bold green")
        if stored <= 0:
            shown = str((entry or {}).get("state") or "queued")
            return ("○ queued" if shown in ("queued", "sent") else "✓ announced, waiting", "yellow")
        return (f"◔ far end holds {share}", "yellow")
    if state == "complete":
        return ("✓ complete, verified", "green")
    return (f"◔ received {share}", "cyan")


def _num(value: Any) -> float:
    return float(value) if isinstance(value, int | float) else 0.0
