"""Bounce reports clean the list: `bounces MAILBOX` suppresses hard bounces (5.x.x) with their
reason and counts soft ones (4.x.x); `subscribers` says who is kept away and why; `resubscribe`
puts one back. Real RFC 3464 reports (Postfix, Exim) in a real mbox file and a real Maildir,
a real outbox and a real SMTP server."""

from __future__ import annotations

import json
import mailbox
from pathlib import Path

from newsletter.outbox import Outbox
from tests.smtpd import SmtpTestServer
from tests.workspace import ISSUE_1, ISSUE_2, Workspace, iso, one_line_error

REPORTS = Path(__file__).parent / "bounces"
POSTFIX_550 = REPORTS / "postfix-550-user-unknown.eml"  # reader0001: 5.1.1 user unknown
EXIM_TWO = REPORTS / "exim-two-recipients.eml"  # reader0002: 5.2.1, reader0003: 4.2.2
OUT_OF_OFFICE = REPORTS / "out-of-office.eml"  # an auto-reply, not a report
ALL = (POSTFIX_550, EXIM_TWO, OUT_OF_OFFICE)
SLUG = "massage-for-the-mental-health-of-it"  # the sample post's series
NOW = iso(ISSUE_1.replace(hour=13))  # before issue 1 goes out

USER_UNKNOWN = (
    "bounce 5.1.1: smtp; 550 5.1.1 <reader0001@example.com>: Recipient address rejected: User"
    " unknown in virtual mailbox table"
)
DISABLED = "bounce 5.2.1: smtp; 550 5.2.1 The email account that you tried to reach is disabled."


def make_mbox(path: Path, *reports: Path) -> Path:
    box = mailbox.mbox(path, create=True)
    for report in reports:
        box.add(report.read_bytes())
    box.close()
    return path


def make_maildir(path: Path, *reports: Path) -> Path:
    box = mailbox.Maildir(path, create=True)
    for report in reports:
        box.add(report.read_bytes())
    return path


def workspace(tmp_path: Path, server: SmtpTestServer) -> Workspace:
    ws = Workspace(tmp_path, server)
    ws.subscribers(5)
    ws.schedule()
    return ws


def test_hard_bounces_in_an_mbox_are_suppressed_and_never_sent_to(
    tmp_path: Path, smtp_server: SmtpTestServer
) -> None:
    ws = workspace(tmp_path, smtp_server)
    box = make_mbox(tmp_path / "bounces.mbox", *ALL)
    code, out, err = ws.cli("bounces", box, now=NOW)
    assert code == 0, err
    assert err == ""
    assert out.splitlines() == [
        f"suppressed Reader0001@example.com: {USER_UNKNOWN}",  # Original-Recipient, as sent
        f"suppressed reader0002@example.com: {DISABLED}",
        "soft bounce for reader0003@example.com (4.2.2), not suppressed: smtp; 452 4.2.2 The"
        " email account that you tried to reach is over quota.",
        "3 message(s) read: 2 hard bounce(s), 2 address(es) newly suppressed; 1 soft bounce(s)"
        " counted, not suppressed; 1 not a bounce report",
    ]
    code, _, err = ws.cli("run", "--once", now=iso(ISSUE_1))
    assert code == 0, err
    assert sorted(m.rcpt_tos[0] for m in smtp_server.messages) == [
        "reader0000@example.com",
        "reader0003@example.com",  # a soft bounce is still sent to
        "reader0004@example.com",
    ]
    # The mailbox is unchanged and reading it again changes nothing.
    code, out, _ = ws.cli("bounces", box, now=NOW)
    assert code == 0
    assert "Reader0001@example.com was already on the suppression list (5.1.1)" in out
    assert "2 hard bounce(s), 0 address(es) newly suppressed" in out

    code, out, err = ws.cli("subscribers", "--json", now=NOW)
    assert code == 0, err
    listed = json.loads(out)["addresses"]
    assert [(a["email"], a["status"], a["reason"]) for a in listed] == [
        ("Reader0001@example.com", "bounced", USER_UNKNOWN),
        ("reader0002@example.com", "bounced", DISABLED),
    ]
    assert listed[0]["since"] == "2025-03-03T13:00:00+00:00"


def test_a_maildir_subscribers_lists_every_kind_and_resubscribe_puts_one_back(
    tmp_path: Path, smtp_server: SmtpTestServer
) -> None:
    ws = workspace(tmp_path, smtp_server)
    maildir = make_maildir(tmp_path / "Maildir", *ALL)
    code, out, err = ws.cli("bounces", maildir, now=NOW)
    assert code == 0, err
    assert "2 address(es) newly suppressed; 1 soft bounce(s) counted" in out
    code, _, err = ws.cli("unsubscribe", "reader0004@example.com", now=NOW)
    assert code == 0, err
    code, _, err = ws.cli("run", "--once", now=iso(ISSUE_1))
    assert code == 0, err
    # reader0003's issue 1 failed for good, for a reason that does not suppress (its content).
    with Outbox.open(ws.outbox) as ob:
        row = next(r for r in ob.deliveries() if r["email"] == "reader0003@example.com")
        with ob.transaction() as c:
            c.execute(
                "UPDATE deliveries SET state = 'failed-permanent', code = 554, answer = ?"
                " WHERE id = ?",
                ("5.6.0 message content rejected", row["id"]),
            )

    code, out, err = ws.cli("subscribers", now=NOW)
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0] == f"bounced     Reader0001@example.com  2025-03-03 13:00 UTC: {USER_UNKNOWN}"
    assert lines[1] == f"bounced     reader0002@example.com  2025-03-03 13:00 UTC: {DISABLED}"
    assert lines[2] == "suppressed  reader0004@example.com  2025-03-03 13:00 UTC: command"
    assert lines[3].startswith("failed      reader0003@example.com  2025-03-03 ")
    assert lines[3].endswith(f" UTC (issue {SLUG} #1): 5.6.0 message content rejected")
    assert lines[4] == "1 suppressed, 2 bounced, 1 failed"
    code, out, _ = ws.cli("subscribers", "--json", now=NOW)
    failed = json.loads(out)["addresses"][3]
    assert (failed["status"], failed["code"]) == ("failed", 554)
    assert failed["issue"] == f"{SLUG} #1"

    code, out, err = ws.cli("resubscribe", "READER0001@example.com", now=NOW)
    assert code == 0, err
    assert out.strip() == f"resubscribed READER0001@example.com (it was suppressed: {USER_UNKNOWN})"
    code, out, _ = ws.cli("resubscribe", "reader0001@example.com", now=NOW)
    assert out.strip() == "reader0001@example.com was not on the suppression list"
    code, out, _ = ws.cli("subscribers", "--json", now=NOW)
    assert "reader0001@example.com" not in out.lower()

    code, _, err = ws.cli("run", "--once", now=iso(ISSUE_2))
    assert code == 0, err
    second = sorted(
        m.rcpt_tos[0] for m in smtp_server.messages if "2 of 5" in m.parsed()["Subject"]
    )
    assert second == ["reader0000@example.com", "reader0001@example.com", "reader0003@example.com"]


def test_a_utf8_report_rfc_6533_suppresses_its_international_address(
    tmp_path: Path, smtp_server: SmtpTestServer
) -> None:
    ws = workspace(tmp_path, smtp_server)
    maildir = make_maildir(tmp_path / "Maildir", REPORTS / "global-utf8-5.1.1.eml")
    code, out, err = ws.cli("bounces", maildir, now=NOW)
    assert code == 0, err
    assert out.splitlines()[0] == (
        "suppressed josé@example.org: bounce 5.1.1: smtp; 550 5.1.1 mailbox josé unavailable"
    )
    code, out, _ = ws.cli("subscribers", "--json", now=NOW)
    assert [a["email"] for a in json.loads(out)["addresses"]] == ["josé@example.org"]


def test_a_report_block_without_a_status_is_a_warning(
    tmp_path: Path, smtp_server: SmtpTestServer
) -> None:
    ws = workspace(tmp_path, smtp_server)
    broken = tmp_path / "broken.eml"
    broken.write_bytes(POSTFIX_550.read_bytes().replace(b"Status: 5.1.1\n", b""))
    code, out, err = ws.cli("bounces", make_mbox(tmp_path / "b.mbox", broken), now=NOW)
    assert code == 0
    assert err.strip().endswith("a delivery-status block without a Status code; skipped")
    assert len(err.strip().splitlines()) == 1
    assert "0 hard bounce(s)" in out


def test_mailbox_and_address_mistakes_are_one_line(
    tmp_path: Path, smtp_server: SmtpTestServer
) -> None:
    ws = Workspace(tmp_path, smtp_server)
    missing = tmp_path / "nowhere"
    code, _, err = ws.cli("bounces", missing, now=NOW)
    assert one_line_error(code, err).endswith(f"{missing}: no such mbox file or Maildir folder")
    folder = tmp_path / "folder"
    folder.mkdir()
    code, _, err = ws.cli("bounces", folder, now=NOW)
    assert "a folder but not a Maildir (it needs cur/ and new/)" in one_line_error(code, err)
    text = tmp_path / "notes.txt"
    text.write_bytes(b"\x00\xff not mail\nat all\n")
    code, _, err = ws.cli("bounces", text, now=NOW)
    assert "not an mbox file (no line starts with 'From ')" in one_line_error(code, err)
    code, _, err = ws.cli("resubscribe", "not an address", now=NOW)
    assert "'not an address' is not an email address" in one_line_error(code, err)
    assert not ws.outbox.exists()  # none of these made an outbox
    code, out, _ = ws.cli("subscribers", now=NOW)
    assert (code, out) == (0, "no suppressed, bounced or failed addresses\n")
