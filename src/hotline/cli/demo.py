"""``hotline demo``: two stations on this machine, from nothing to a secure session.

Everything here is real: identities with passphrase-encrypted key files on disk, signed cards,
a line key sealed with HPKE and carried across, and a hybrid post-quantum Noise session over
loopback TCP. Only the two stations share a process, which later versions of the demo split into
daemons.
"""

from __future__ import annotations

import asyncio
import tempfile
import time
from pathlib import Path

from rich.console import Console
from rich.panel import Panel

from hotline.net.tcp import ChannelClosed, connect, listen
from hotline.proto.cards import armor_card, dearmor_card, issue_card
from hotline.proto.handshake import PeerTable
from hotline.proto.identity import Identity
from hotline.proto.identity_errors import WrongPassphrase
from hotline.proto.keyfile import open_identity, seal_identity
from hotline.proto.linekeys import create_line_key, open_line_key
from hotline.proto.replay import TimestampGuard
from hotline.proto.safety import safety_number
from hotline.proto.session import SessionConfig

PASSPHRASE = "correct horse battery staple"  # a demo passphrase; a real station prompts for one


def _create_station(console: Console, home: Path, name: str) -> Identity:
    started = time.perf_counter()
    identity = Identity.generate(name)
    keyfile = home / name / "identity.key"
    keyfile.parent.mkdir(parents=True)
    keyfile.write_bytes(seal_identity(identity, PASSPHRASE))
    keyfile.chmod(0o600)
    # read it back the way a daemon would at start
    reopened = open_identity(keyfile.read_bytes(), PASSPHRASE)
    assert reopened.fingerprint == identity.fingerprint
    took = time.perf_counter() - started
    console.print(
        f"  [bold]{name}[/]: keys made and sealed under the passphrase with Argon2id "
        f"(64 MiB, 3 passes) into {keyfile.relative_to(home)}  [dim]{took:.2f} s[/]"
    )
    return reopened


def run_demo(port: int = 0) -> None:
    """Run the demo and print what happens."""
    console = Console(highlight=False)
    with tempfile.TemporaryDirectory(prefix="hotline-demo-") as tmp:
        asyncio.run(_demo(console, Path(tmp), port))


async def _demo(console: Console, home: Path, port: int) -> None:
    console.rule("[bold]Hotline demo: moscow ⇄ jerusalem")
    console.print("\n[bold]1. Two stations are created[/] (in a temporary directory)")
    moscow = _create_station(console, home, "moscow")
    jerusalem = _create_station(console, home, "jerusalem")
    try:
        open_identity((home / "moscow" / "identity.key").read_bytes(), "wrong passphrase")
    except WrongPassphrase as exc:
        console.print(f"  a wrong passphrase is refused: [italic]{exc.reason}[/]")

    directory = PeerTable()
    guard = TimestampGuard()
    server_config = SessionConfig(static=jerusalem.static_key)
    moscow_config = SessionConfig(static=moscow.static_key)
    async with (
        listen("127.0.0.1", port, config=server_config, peers=directory, guard=guard) as listener,
        listen("127.0.0.1", 0, config=moscow_config, peers=PeerTable(), guard=TimestampGuard()) as m,
    ):
        now = int(time.time())
        cards = {
            "moscow": issue_card(moscow, endpoints=[f"127.0.0.1:{m.port}"], created_at=now),
            "jerusalem": issue_card(jerusalem, endpoints=[f"127.0.0.1:{listener.port}"], created_at=now),
        }
        console.print("\n[bold]2. Each station exports its signed card[/] (Ed25519 + ML-DSA-65)")
        for name, card in cards.items():
            armored = armor_card(card)
            path = home / name / "card.txt"
            path.write_text(armored, encoding="utf-8")
            lines = armored.splitlines()
            console.print(
                f"  [bold]{name}[/]  fingerprint [cyan]{card.fingerprint}[/]  "
                f"endpoints {', '.join(card.endpoints)}  ({len(lines)} lines of armor)"
            )
            console.print(f"    [dim]{lines[0]}\n    {lines[1][:64]}\n    …\n    {lines[-1]}[/]")
        # each side reads the other's card back from its file: signature and keys are checked
        jerusalem_card_at_moscow = dearmor_card((home / "jerusalem" / "card.txt").read_text("utf-8"))
        moscow_card_at_jerusalem = dearmor_card((home / "moscow" / "card.txt").read_text("utf-8"))

        console.print("\n[bold]3. The operators compare the safety number[/] over a trusted channel")
        at_moscow = safety_number(cards["moscow"], jerusalem_card_at_moscow)
        at_jerusalem = safety_number(cards["jerusalem"], moscow_card_at_jerusalem)
        for name, number in (("moscow", at_moscow), ("jerusalem", at_jerusalem)):
            groups = number.groups
            words = number.words
            console.print(f"  at [bold]{name}[/]:")
            console.print(f"    digits [bold cyan]{' '.join(groups[:6])}[/]")
            console.print(f"           [bold cyan]{' '.join(groups[6:])}[/]")
            for row in range(0, len(words), 8):
                label = "words " if row == 0 else "      "
                console.print(f"    {label} [cyan]{' '.join(words[row : row + 8])}[/]")
        verdict = "[green]they match[/]" if at_moscow == at_jerusalem else "[red]MISMATCH[/]"
        console.print(f"  {verdict}: the line is verified on both sides")

        console.print(
            "\n[bold]4. moscow makes the line key and seals it to jerusalem[/] (HPKE, MLKEM768-X25519)"
        )
        line_key, sealed = create_line_key(
            sender=moscow, recipient=jerusalem_card_at_moscow, label="moscow-jerusalem", created_at=now
        )
        opened = open_line_key(sealed, jerusalem, moscow_card_at_jerusalem)
        assert opened.key == line_key.key
        console.print(
            f"  sealed line key: {len(sealed)} bytes, signed by moscow; jerusalem checked the signature "
            f"and opened it (label [bold]{opened.label}[/])"
        )
        directory.keys[moscow.static_key.public_key().raw] = opened.key

        console.print("\n[bold]5. moscow dials jerusalem[/] over loopback TCP")
        started = time.perf_counter()
        client = await connect(
            "127.0.0.1",
            listener.port,
            config=moscow_config,
            peer_static=jerusalem_card_at_moscow.static_public.raw,
            line_key=line_key.key,
        )
        server = await listener.accept()
        took = (time.perf_counter() - started) * 1000
        console.print(f"  handshake: [bold cyan]{client.protocol_name}[/]  [dim]{took:.1f} ms[/]")
        same = "the same on both sides" if client.handshake_hash == server.handshake_hash else "DIFFERENT"
        console.print(f"  handshake hash {client.handshake_hash.hex()[:32]}… ({same})")
        who = "moscow" if server.peer_static == moscow.static_key.public_key().raw else "unknown"
        console.print(f"  jerusalem authenticated its caller as [bold]{who}[/]")

        await client.send(b"FLASH: this is moscow, do you read me?")
        got = await server.receive()
        console.print(f"  jerusalem received: [green]{got.decode()}[/]")
        await server.send(b"jerusalem here, reading you five by five.")
        got = await client.receive()
        console.print(f"  moscow received:    [green]{got.decode()}[/]")

        console.print("\n[bold]6. A stranger with keys of its own and no line key dials jerusalem[/]")
        stranger = Identity.generate("stranger")
        try:
            await connect(
                "127.0.0.1",
                listener.port,
                config=SessionConfig(static=stranger.static_key, handshake_timeout=1.0),
                peer_static=jerusalem_card_at_moscow.static_public.raw,
                line_key=bytes(32),
            )
        except ChannelClosed as exc:
            console.print(f"  the stranger got no answer at all ({exc.code.name}); nothing was revealed")
        await client.close()
        await server.wait_closed()
    console.print(
        Panel.fit(
            "Two stations, one verified line, one post-quantum hybrid session, a record each way.",
            title="done",
        )
    )


__all__ = ["run_demo"]
