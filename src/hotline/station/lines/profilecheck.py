"""A line whose two ends have different profiles (docs/protocol.md §3.8): the ``profile-mismatch`` alert.

The profile picks the handshake's protocol name, so two ends that differ never complete a handshake;
nothing is negotiated. What the station can do is say so, loudly and once: the alert names both
profiles and, for each, the command the end that changes would run.
"""

from __future__ import annotations

from hotline.station.alertkinds import AlertKind
from hotline.station.events import AlertBoard

#: The alert raised when the two ends of a line have different profiles.
PROFILE_MISMATCH = AlertKind.PROFILE_MISMATCH


def mismatch_detail(*, peer: str, us: str, ours: str, theirs: str) -> str:
    """The alert's words: both profiles, and what each end would run to agree."""
    return (
        f"the line to {peer} is {ours} here but {theirs} at {peer}: no session until both ends have one "
        f"profile. Agree with {peer}'s operator which it is; for {theirs}, run `hotline line profile "
        f"{peer} {theirs}` here; for {ours}, {peer}'s operator runs `hotline line profile {us} {ours}` "
        "there. The end that changes re-keys and re-verifies"
    )


class ProfileCheck:
    """The peer's profile a line's standing ``profile-mismatch`` alert tells of. Event loop only."""

    def __init__(self, alerts: AlertBoard) -> None:
        self._alerts = alerts
        #: The profile the peer was last found with, while it differs from ours.
        self.theirs: str | None = None

    def differs(self, *, peer: str, us: str, ours: str, theirs: str) -> None:
        """The peer runs the line with ``theirs``: alert, once per profile found (a redial that finds
        the same says nothing new, even when the operator cleared it)."""
        if theirs == ours or theirs == self.theirs:
            return
        self._alerts.drop((PROFILE_MISMATCH,))
        self.theirs = theirs
        self._alerts.alert(PROFILE_MISMATCH, mismatch_detail(peer=peer, us=us, ours=ours, theirs=theirs))

    def agree(self) -> None:
        """The ends have one profile again: the alert goes."""
        if self.theirs is not None:
            self.theirs = None
            self._alerts.drop((PROFILE_MISMATCH,))


__all__ = ["PROFILE_MISMATCH", "ProfileCheck", "mismatch_detail"]
