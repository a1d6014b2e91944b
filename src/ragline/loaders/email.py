"""E-mail: single messages (.eml) and mailboxes (.mbox, one document per message), attachments
as documents of their own.

A message's text is a short header block (From, To, Date, Subject, Attachments) and its body
(the text/plain part, else the text/html part rendered like an HTML page). Sender, recipients,
date, subject and Message-ID become metadata. Each attachment that some loader reads (a PDF, a
spreadsheet, a Word file...) becomes its own document(s) of the same source file, carrying
``parent_message_id`` and ``parent_doc_id`` back to its message and the message's sender, date and
subject; an attachment that cannot be read is logged and left out, the message is still indexed.
"""

from __future__ import annotations

import logging
import mailbox
from collections.abc import Callable, Iterator
from dataclasses import replace
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from email.utils import parsedate_to_datetime
from pathlib import Path

from bs4 import BeautifulSoup

from ragline.cleaning.text import clean_text
from ragline.errors import LoaderError
from ragline.loaders._common import make_document, read_bytes, source_of
from ragline.loaders.html import html_to_text
from ragline.types import Document, Metadata, stable_id

log = logging.getLogger(__name__)

#: Reads one attachment (its file name and bytes) into documents; [] for a type no loader reads.
AttachmentLoader = Callable[[str, bytes], list[Document]]


def _header(message: EmailMessage, name: str) -> str:
    value = message.get(name)
    return " ".join(str(value).split()) if value is not None else ""


def _iso_date(raw: str) -> str:
    """An RFC 5322 date as ISO 8601 (so it sorts and filters as text), or the raw value."""
    if not raw:
        return ""
    try:
        return parsedate_to_datetime(raw).isoformat()
    except (TypeError, ValueError, IndexError):
        return raw


def _body(message: EmailMessage) -> str:
    part = message.get_body(preferencelist=("plain", "html"))
    if part is None:
        return ""
    try:
        content = part.get_content()
    except (LookupError, UnicodeError):
        # An unknown or lying charset: the bytes as UTF-8, bad sequences replaced.
        payload = part.get_payload(decode=True)
        content = payload.decode("utf-8", "replace") if isinstance(payload, bytes) else ""
    if not isinstance(content, str):
        return ""
    if part.get_content_subtype() == "html":
        return html_to_text(BeautifulSoup(content, "lxml"))
    return content


def _messages(path: Path) -> Iterator[bytes]:
    """The raw bytes of each message of the file: one for .eml, each of an .mbox."""
    if path.suffix.lower() != ".mbox":
        yield read_bytes(path)
        return
    try:
        box = mailbox.mbox(path, create=False)
    except (OSError, mailbox.Error) as exc:
        raise LoaderError(str(path), f"cannot open mailbox: {exc}") from exc
    try:
        for key in box.iterkeys():
            yield box.get_bytes(key)
    finally:
        box.close()


class EmailLoader:
    """Loads .eml messages and .mbox mailboxes; ``attachments`` reads attached files (the registry
    passes one that uses the loader for each attachment's extension; None leaves them out).

    Example::

        docs = EmailLoader(attachments=read_attachment).load(Path("inbox.mbox"))
        {d.metadata.get("subject") for d in docs}
    """

    extensions: tuple[str, ...] = (".eml", ".mbox")

    def __init__(self, attachments: AttachmentLoader | None = None) -> None:
        self._attachments = attachments

    def load(self, path: Path) -> list[Document]:
        """Documents of every message and of its readable attachments, in order."""
        source = source_of(path)
        parser = BytesParser(policy=policy.default)
        docs: list[Document] = []
        seen: set[str] = set()
        for number, raw in enumerate(_messages(path), start=1):
            message = parser.parsebytes(raw)
            if not isinstance(message, EmailMessage):
                continue
            message_id = _header(message, "Message-ID").strip("<>")
            # The Message-ID keeps a message's document id when others are added or removed; the
            # position stands in for a missing or repeated one.
            locator = f"message:{message_id}" if message_id and message_id not in seen else f"#{number}"
            seen.add(message_id)
            docs.extend(self._message(path, source, message, message_id, locator))
        return docs

    def _message(
        self, path: Path, source: str, message: EmailMessage, message_id: str, locator: str
    ) -> list[Document]:
        sender, to = _header(message, "From"), _header(message, "To")
        subject = _header(message, "Subject")
        date = _iso_date(_header(message, "Date"))
        names = [
            " ".join(str(part.get_filename()).split())
            for part in message.iter_attachments()
            if part.get_filename()
        ]
        lines = [
            f"{label}: {value}"
            for label, value in (
                ("From", sender),
                ("To", to),
                ("Date", date),
                ("Subject", subject),
                ("Attachments", ", ".join(names)),
            )
            if value
        ]
        text = clean_text("\n".join(lines) + "\n\n" + _body(message))
        metadata: Metadata = {}
        for key, value in (("sender", sender), ("to", to), ("date", date), ("subject", subject)):
            if value:
                metadata[key] = value
        if message_id:
            metadata["message_id"] = message_id
        if names:
            metadata["attachments"] = len(names)
        doc = make_document(
            path, source, text, locator=locator, title=subject, metadata=metadata, cleaned=True
        )
        return [doc, *self._attached(path, message, doc, metadata)]

    def _attached(
        self, path: Path, message: EmailMessage, parent: Document, parent_meta: Metadata
    ) -> list[Document]:
        if self._attachments is None:
            return []
        inherited: Metadata = {k: v for k, v in parent_meta.items() if k in ("sender", "date", "subject")}
        if "message_id" in parent_meta:
            inherited["parent_message_id"] = parent_meta["message_id"]
        inherited["parent_doc_id"] = parent.id
        out: list[Document] = []
        for index, part in enumerate(message.iter_attachments()):
            name = part.get_filename()
            data = part.get_payload(decode=True)
            if not name or not isinstance(data, bytes):
                continue
            try:
                loaded = self._attachments(name, data)
            except LoaderError as exc:
                log.warning(
                    "%s: attachment %r of message %r left out: %s", path, name, parent.title, exc.reason
                )
                continue
            for n, doc in enumerate(loaded):
                out.append(
                    replace(
                        doc,
                        # By position: the attachment was read from a temporary file.
                        id=stable_id(parent.id, "attachment", str(index), str(n)),
                        source=parent.source,
                        title=doc.title or name,
                        metadata={**doc.metadata, **inherited},
                    )
                )
        return out
