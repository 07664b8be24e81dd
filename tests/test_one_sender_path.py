"""One path for what is sent: the .eml files of `run --dry-run` and `build` come from the code
that sends, so they hold the bytes a real SMTP server receives (Date and Message-ID aside)."""

from __future__ import annotations

import re
from email import message_from_bytes
from email.policy import default
from pathlib import Path

from tests.helpers import SAMPLE
from tests.smtpd import SmtpTestServer
from tests.workspace import ISSUE_1, Workspace, iso

VOLATILE = re.compile(rb"^(Date|Message-ID): .*\r\n", re.MULTILINE | re.IGNORECASE)


def without_volatile(data: bytes) -> bytes:
    """Date and Message-ID removed, and the MIME boundary (random per message) named alike."""
    found = re.search(rb'boundary="([^"]+)"', data)
    assert found, data[:300]
    return VOLATILE.sub(b"", data).replace(found.group(1), b"BOUNDARY")


def test_a_dry_run_file_is_what_the_server_receives(
    tmp_path: Path, smtp_server: SmtpTestServer
) -> None:
    ws = Workspace(tmp_path, smtp_server)
    ws.subscribers(1)
    ws.schedule()
    code, _, err = ws.cli("run", "--dry-run", "--out", tmp_path / "dry", now=iso(ISSUE_1))
    assert code == 0, err
    (eml,) = (tmp_path / "dry").rglob("*.eml")
    code, _, err = ws.cli("run", "--once", now=iso(ISSUE_1))
    assert code == 0, err
    (got,) = smtp_server.messages
    dry = eml.read_bytes()
    assert b"\r\nList-Unsubscribe: <mailto:" in dry
    assert without_volatile(dry) == without_volatile(got.data)
    assert dry != got.data  # the two did differ, in exactly those two headers


def test_builds_message_eml_carries_what_a_real_send_carries(
    tmp_path: Path, smtp_server: SmtpTestServer
) -> None:
    ws = Workspace(tmp_path, smtp_server)
    ws.subscribers(1)
    ws.schedule()
    code, _, err = ws.cli("build", SAMPLE, "-o", tmp_path / "build", now=iso(ISSUE_1))
    assert code == 0, err
    (built,) = (tmp_path / "build").rglob("01-*/message.eml")
    code, _, err = ws.cli("run", "--once", now=iso(ISSUE_1))
    assert code == 0, err
    (got,) = smtp_server.messages
    eml = message_from_bytes(built.read_bytes(), policy=default)
    sent = message_from_bytes(got.data, policy=default)
    assert list(eml.keys()) == list(sent.keys())
    assert str(eml["List-Unsubscribe"]).startswith(
        "<mailto:chelsa@example.com?subject=unsubscribe>, <"
    )
    assert str(sent["List-Unsubscribe"]).startswith(
        "<mailto:chelsa@example.com?subject=unsubscribe>, <"
    )
    assert b"\r\n" in built.read_bytes() and b"\r\r" not in built.read_bytes()
