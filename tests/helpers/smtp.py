"""A real SMTP server's inbox (aiosmtpd) for the alert tests."""

from __future__ import annotations


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Inbox:
    """Messages received by the test SMTP server."""

    def __init__(self) -> None:
        self.messages: list = []

    async def handle_DATA(self, server, session, envelope):  # type: ignore[no-untyped-def]
        import email

        self.messages.append(email.message_from_bytes(envelope.content))
        return "250 OK"

    @staticmethod
    def text(msg) -> str:  # type: ignore[no-untyped-def]
        parts = [p.get_payload(decode=True) for p in msg.walk() if not p.is_multipart()]
        return "\n".join(p.decode("utf-8") for p in parts if isinstance(p, bytes))
