"""No resend in the dark (issue 10, case 3): a final reply that never comes is `unknown`, retried
once on a later pass with the same Message-ID, then left for the writer. A real slow server, the
CLI, and the outbox state checked.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

from newsletter.outbox import State
from tests.pg import Opener
from tests.smtpd import SmtpTestServer
from tests.workspace import ISSUE_1, T0, Workspace, iso, one_line_error, one_pending


def test_a_server_that_answers_the_final_dot_late_gets_at_most_two_copies(
    tmp_path: Path, smtp_server_factory: Callable[..., SmtpTestServer]
) -> None:
    """Case 3: previously 12 copies per reader in 3 passes, and the outbox said failed-temporary."""
    server = smtp_server_factory(answer_late=1.0)
    ws = Workspace(tmp_path, server, timeout=0.2, data_timeout=0.3, retry_after=1)
    readers = ws.subscribers(3)
    ws.schedule()
    for minutes in (0, 5, 10):
        code, out, err = ws.cli("run", "--once", now=iso(ISSUE_1 + timedelta(minutes=minutes)))
        assert code == 0, err
    copies = Counter(m.rcpt_tos[0] for m in server.messages)
    assert copies == dict.fromkeys(readers, 2), copies
    ids = Counter(m.parsed()["Message-ID"] for m in server.messages)
    assert sorted(ids.values()) == [2, 2, 2]  # the retry kept the first one's Message-ID
    rows = [r for r in ws.rows() if r["state"] != "pending"]
    assert [(r["state"], r["unknowns"], r["next_try"]) for r in rows] == [("unknown", 2, None)] * 3
    assert all("no final reply twice" in str(r["answer"]) for r in rows)
    code, out, err = ws.cli("status", now=iso(ISSUE_1 + timedelta(minutes=15)))
    assert code == 0, err
    assert " unknown " in next(line for line in out.splitlines() if line.strip().startswith("1 "))
    assert "3 message(s) got no final reply after the body" in out
    assert "sent 0, will retry 0, failed 0" not in out


def test_the_writer_settles_unknown_messages_from_the_cli(
    tmp_path: Path, smtp_server_factory: Callable[..., SmtpTestServer]
) -> None:
    server = smtp_server_factory(answer_late=1.0)
    ws = Workspace(tmp_path, server, timeout=0.2, data_timeout=0.3, retry_after=1)
    readers = ws.subscribers(2)
    ws.schedule()
    code, out, err = ws.cli("run", "--once", now=iso(ISSUE_1))
    assert code == 0, err
    assert "no final reply 2" in out  # the summary counts them
    later = iso(ISSUE_1 + timedelta(minutes=5))
    code, out, err = ws.cli("unknown", "--json", now=later)
    assert code == 0, err
    listed = json.loads(out)["unknown"]
    assert sorted(u["email"] for u in listed) == sorted(readers)
    assert all(u["issue"].endswith(" #1") and u["message_id"].startswith("<") for u in listed)

    code, _, err = ws.cli("unknown", "--sent", "--resend", now=later)
    assert one_line_error(code, err, status=2)
    code, out, err = ws.cli("unknown", "no-such-series", "--sent", now=later)
    assert code == 0 and "no message is waiting" in out
    code, out, err = ws.cli(
        "unknown", "massage-for-the-mental-health-of-it", "1", "--resend", now=later
    )
    assert code == 0, err
    assert "2 message(s) queued again" in out
    prompt = smtp_server_factory()  # the server answers in time now
    ws.write_config(prompt, timeout=0.2, data_timeout=0.3, retry_after=1)
    code, out, err = ws.cli("run", "--once", now=later)
    assert code == 0, err
    assert "sent 2" in out
    first_ids = {u["message_id"] for u in listed}
    assert {m.parsed()["Message-ID"] for m in prompt.messages} == first_ids

    assert all(row["state"] == "sent" for row in ws.rows())
    code, out, err = ws.cli("unknown", now=later)
    assert "no message is waiting" in out


def test_unknown_sent_records_them_delivered_without_sending(
    tmp_path: Path, smtp_server_factory: Callable[..., SmtpTestServer]
) -> None:
    server = smtp_server_factory(answer_late=1.0)
    ws = Workspace(tmp_path, server, timeout=0.2, data_timeout=0.3, retry_after=1)
    ws.subscribers(2)
    ws.schedule()
    assert ws.cli("run", "--once", now=iso(ISSUE_1))[0] == 0
    later = iso(ISSUE_1 + timedelta(minutes=5))
    code, out, err = ws.cli("unknown", "--sent", now=later)
    assert code == 0, err
    assert "recorded 2 message(s) as sent" in out
    rows = ws.rows()
    assert [r["state"] for r in rows] == ["sent", "sent"]
    assert all(str(r["answer"]).startswith("marked sent by the writer") for r in rows)
    copies = len(server.messages)
    assert ws.cli("run", "--once", now=later)[0] == 0
    assert len(server.messages) == copies  # nothing more went out


def test_unknown_is_never_retried_in_the_pass_that_recorded_it(open_outbox: Opener) -> None:
    with open_outbox() as ob:
        one_pending(ob, "a@example.com")
        d = ob.claim(T0, "<first@example.com>")
        assert d is not None
        state = ob.record(
            d.id, status="unknown", code=None, detail="no reply", now=T0, max_attempts=1,
            retry_delay=lambda attempt: 0.0,
        )  # fmt: skip
        assert state == State.UNKNOWN
        assert ob.claim(T0, "<second@example.com>") is None  # same pass
        assert ob.count_waiting(T0) == 0
        later = T0 + timedelta(seconds=1)
        assert ob.count_waiting(later) == 1
        again = ob.claim(later, "<second@example.com>")
        assert again is not None and again.message_id == "<first@example.com>"
        ob.record(
            again.id, status="sent", code=250, detail="OK", now=later, max_attempts=1,
            retry_delay=lambda attempt: 0.0,
        )  # fmt: skip
        assert ob.counts() == {"sent": 1}
