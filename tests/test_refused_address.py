"""A 550/551/553 to RCPT TO puts the address on the suppression list with the reason and the
server's text; other permanent failures are recorded without suppressing (issue 10, list
hygiene). A real server, the CLI, and the outbox checked.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from newsletter.mailer import SmtpConnection
from newsletter.outbox import Outbox
from tests.smtpd import SmtpTestServer, settings_for
from tests.test_mailer import FROM, make_msg
from tests.workspace import ISSUE_1, ISSUE_2, Workspace, iso, issue_of

Factory = Callable[..., SmtpTestServer]


def test_only_a_refused_recipient_is_a_bad_address(smtp_server_factory: Factory) -> None:
    server = smtp_server_factory(
        reject={"gone@example.com": "no such user"}, tempfail_every=1, tempfail_code=554
    )
    with SmtpConnection(settings_for(server)) as conn:
        gone = conn.send(make_msg(), FROM, "gone@example.com")
        spam = conn.send(make_msg(), FROM, "ok@example.com")  # 554 at the end of DATA
    assert (gone.status, gone.code, gone.bad_address) == ("permanent", 550, True)
    assert (spam.status, spam.code, spam.bad_address) == ("permanent", 554, False)


def test_a_550_address_is_suppressed_and_skipped_by_the_next_issue(
    tmp_path: Path, smtp_server_factory: Factory
) -> None:
    """Case 11: previously the bounced reader was tried again on issue 2 and every issue after."""
    server = smtp_server_factory(
        reject={"reader0001@example.com": "no such user"}, tempfail_every=2, tempfail_code=554
    )
    ws = Workspace(tmp_path, server, connections=1)
    ws.subscribers(3)
    ws.schedule()
    code, _, err = ws.cli("run", "--once", now=iso(ISSUE_1))
    assert code == 0, err
    with Outbox.open(ws.outbox) as ob, ob.transaction() as c:
        listed = c.execute("SELECT email, reason FROM suppression").fetchall()
    assert listed == [("reader0001@example.com", "bounce 550: 5.1.1 no such user")]
    failed = {r["email"]: (r["state"], r["code"]) for r in ws.rows()}
    assert failed == {
        "reader0000@example.com": ("sent", 250),
        "reader0001@example.com": ("failed-permanent", 550),
        "reader0002@example.com": ("failed-permanent", 554),  # recorded, not suppressed
    }
    code, _, err = ws.cli("run", "--once", now=iso(ISSUE_2))
    assert code == 0, err
    assert server.rcpt_attempts("reader0001@example.com") == 1  # never tried again
    assert server.rcpt_attempts("reader0002@example.com") == 2  # its 554 suppressed nothing
    second = [m.rcpt_tos[0] for m in server.messages if issue_of(m.parsed()) == 2]
    assert second == ["reader0000@example.com"]
    assert {r["email"] for r in ws.rows() if r["state"] == "suppressed"} == set()
