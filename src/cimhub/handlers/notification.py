"""Notifications (email, SMS gateways) through a pluggable sender, chosen by URL.

``CIMHUB_NOTIFY_URL``: ``log:`` (the default: a log line per notification),
``file:///path/notifications.jsonl`` (one JSON object per line, appended),
``smtp://host:port`` (plain SMTP; ``smtp+starttls://`` upgrades first), or
``http(s)://…`` (an SMS gateway or webhook: a JSON POST ``{to, subject, body}``). Recipients come
from the exception rule, else ``CIMHUB_NOTIFY_TO``. Notifications are sent after the
transaction that raised them commits; a failing sender is logged, never undoes the work.
"""

from __future__ import annotations

import json
import logging
import smtplib
from dataclasses import asdict, dataclass
from email.message import EmailMessage
from pathlib import Path
from typing import Protocol
from urllib.parse import urlsplit

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Notification:
    to: tuple[str, ...]
    subject: str
    body: str


class Sender(Protocol):
    def send(self, notification: Notification) -> None: ...


class LogSender:
    def send(self, notification: Notification) -> None:
        log.info("notification to %s: %s", ", ".join(notification.to), notification.subject)


class FileSender:
    def __init__(self, path: Path) -> None:
        self.path = path

    def send(self, notification: Notification) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.open("a", encoding="utf-8") as out:
            out.write(json.dumps(asdict(notification)) + "\n")


class SmtpSender:
    def __init__(self, host: str, port: int, sender: str, *, starttls: bool = False) -> None:
        self.host, self.port, self.sender, self.starttls = host, port, sender, starttls

    def send(self, notification: Notification) -> None:
        message = EmailMessage()
        message["From"] = self.sender
        message["To"] = ", ".join(notification.to)
        message["Subject"] = notification.subject
        message.set_content(notification.body)
        with smtplib.SMTP(self.host, self.port, timeout=10) as smtp:
            if self.starttls:
                smtp.starttls()
            smtp.send_message(message)


class WebhookSender:
    """A JSON POST per notification (an SMS gateway, a chat webhook); 2xx or it failed."""

    def __init__(self, url: str) -> None:
        self.url = url

    def send(self, notification: Notification) -> None:
        import httpx

        response = httpx.post(self.url, json=asdict(notification), timeout=10)
        response.raise_for_status()


def sender_for(url: str | None, from_address: str = "cimhub@localhost") -> Sender:
    """The sender a ``CIMHUB_NOTIFY_URL`` names (``log:`` when unset)."""
    parts = urlsplit(url or "log:")
    if parts.scheme == "file":
        return FileSender(Path(parts.path))
    if parts.scheme in ("smtp", "smtp+starttls"):
        return SmtpSender(parts.hostname or "127.0.0.1", parts.port or 25, from_address,
                          starttls=parts.scheme == "smtp+starttls")  # fmt: skip
    if parts.scheme in ("http", "https"):
        return WebhookSender(url or "")
    if parts.scheme == "log":
        return LogSender()
    raise ValueError(f"unknown notification sender {url!r} (log:, file:, smtp:, http:)")


def deliver(sender: Sender, notifications: list[Notification]) -> None:
    """Send each; a failure is logged and the rest still go."""
    for notification in notifications:
        try:
            sender.send(notification)
        except Exception:  # a mail server down must not break the hub's work
            log.exception("notification %r not sent", notification.subject)


def deliver_to(url: str | None, from_address: str, notifications: list[Notification]) -> None:
    """``deliver`` through the sender a URL names; a URL naming none is logged, not raised
    (notifications go after commit: the work they tell of is done)."""
    try:
        sender = sender_for(url, from_address)
    except ValueError:
        log.exception("%d notification(s) not sent", len(notifications))
        return
    deliver(sender, notifications)
