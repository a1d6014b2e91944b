from __future__ import annotations

import logging
import mailbox
from email.message import EmailMessage
from pathlib import Path

import openpyxl
import pytest

from ragline.loaders.email import EmailLoader
from ragline.loaders.registry import load_file
from ragline.settings import LoaderSettings
from tests.helpers import fast_engine


def _workbook_bytes(tmp_path: Path) -> bytes:
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.title = "Budget"
    sheet.append(["Item", "Cost"])
    sheet.append(["Lanterns", 70])
    path = tmp_path / "budget-src.xlsx"
    workbook.save(path)
    return path.read_bytes()


def message(
    tmp_path: Path, *, subject: str, msg_id: str, body: str, html: bool = False, attach: bool = False
) -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = "Ada Lovelace <ada@example.org>"
    msg["To"] = "grace@example.org"
    msg["Subject"] = subject
    msg["Date"] = "Tue, 04 Mar 2025 10:15:00 +0100"
    msg["Message-ID"] = f"<{msg_id}>"
    if html:
        msg.set_content(f"<html><body><nav>menu</nav><p>{body}</p></body></html>", subtype="html")
    else:
        msg.set_content(body)
    if attach:
        msg.add_attachment(
            _workbook_bytes(tmp_path),
            maintype="application",
            subtype="vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            filename="budget.xlsx",
        )
        msg.add_attachment(b"\x89PNG not really", maintype="image", subtype="png", filename="logo.png")
        msg.add_attachment(b"garbage", maintype="application", subtype="pdf", filename="broken.pdf")
    return msg


def test_eml_with_metadata_and_attachment_as_its_own_document(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "budget.eml"
    msg = message(
        tmp_path, subject="Lantern budget", msg_id="m1@example.org", body="See the sheet.", attach=True
    )
    path.write_bytes(bytes(msg))
    with caplog.at_level(logging.WARNING, logger="ragline.loaders.email"):
        parent, sheet = load_file(path, LoaderSettings())
    assert parent.title == "Lantern budget"
    assert parent.text == (
        "From: Ada Lovelace <ada@example.org>\nTo: grace@example.org\nDate: 2025-03-04T10:15:00+01:00\n"
        "Subject: Lantern budget\nAttachments: budget.xlsx, logo.png, broken.pdf\n\nSee the sheet."
    )
    assert parent.metadata == {
        "sender": "Ada Lovelace <ada@example.org>",
        "to": "grace@example.org",
        "date": "2025-03-04T10:15:00+01:00",
        "subject": "Lantern budget",
        "message_id": "m1@example.org",
        "attachments": 3,
        "file_name": "budget.eml",
        "file_type": "eml",
    }
    # The spreadsheet is read by its own loader; the image has none; the broken PDF is logged.
    assert "| Lanterns | 70 |" in sheet.text
    assert sheet.source == parent.source
    assert sheet.id != parent.id
    assert sheet.metadata["parent_message_id"] == "m1@example.org"
    assert sheet.metadata["parent_doc_id"] == parent.id
    assert sheet.metadata["file_name"] == "budget.xlsx"
    assert sheet.metadata["subject"] == "Lantern budget"
    assert sheet.metadata["sender"] == "Ada Lovelace <ada@example.org>"
    assert "broken.pdf" in caplog.text
    # Stable ids: loading again gives the same documents.
    assert [d.id for d in load_file(path, LoaderSettings())] == [parent.id, sheet.id]


def test_mbox_gives_one_document_per_message_and_html_bodies_are_rendered(tmp_path: Path) -> None:
    path = tmp_path / "inbox.mbox"
    box = mailbox.mbox(path)
    box.add(message(tmp_path, subject="Tides", msg_id="a@x", body="High tide at noon."))
    box.add(message(tmp_path, subject="Fees", msg_id="b@x", body="Harbour fees rise.", html=True))
    box.flush()
    box.close()
    docs = EmailLoader().load(path)
    assert [d.title for d in docs] == ["Tides", "Fees"]
    assert [d.metadata["message_id"] for d in docs] == ["a@x", "b@x"]
    assert docs[1].text.endswith("\n\nHarbour fees rise.")
    assert "menu" not in docs[1].text
    assert len({d.id for d in docs}) == 2


def test_ingested_attachment_is_found_and_linked_to_its_message(tmp_path: Path) -> None:
    path = tmp_path / "budget.eml"
    msg = message(
        tmp_path, subject="Lantern budget", msg_id="m1@example.org", body="See the sheet.", attach=True
    )
    path.write_bytes(bytes(msg))
    engine = fast_engine(tmp_path / "data")
    report = engine.ingest([path])
    assert (report.files_indexed, report.documents_indexed) == (1, 2)
    [hit] = engine.search("Lanterns", mode="keyword", filters={"parent_message_id": "m1@example.org"})
    assert "| Lanterns | 70 |" in hit.chunk.text
    assert hit.chunk.metadata["file_name"] == "budget.xlsx"
    [message_hit] = engine.search(
        "sheet", mode="keyword", filters={"sender": "Ada Lovelace <ada@example.org>"}
    )
    assert message_hit.chunk.title == "Lantern budget"
