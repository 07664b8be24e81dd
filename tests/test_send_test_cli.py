"""`newsletter send-test` end to end: the sample post, rendered, sent to a real aiosmtpd server."""

from __future__ import annotations

import base64
import socket
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from newsletter.cli import main
from newsletter.unsubscribe import verify
from tests.helpers import ROOT, SAMPLE
from tests.smtpd import SmtpTestServer
from tests.workspace import Workspace

Factory = Callable[..., SmtpTestServer]
SECRET = "a-test-secret-of-enough-length-1234"
PASSWORD = "Very-Secret-Pw-42!"


@pytest.fixture(autouse=True)
def environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NEWSLETTER_SECRET", SECRET)
    monkeypatch.delenv("NEWSLETTER_SMTP_PASSWORD", raising=False)
    monkeypatch.delenv("NEWSLETTER_NOW", raising=False)


def write_config(folder: Path, server: SmtpTestServer | None, **smtp: object) -> Path:
    return Workspace(folder, server, timeout=3, **smtp).config


def send_test(
    config: Path, *extra: str, issue: str = "3", to: str = "reader@example.com"
) -> list[str]:
    return ["--config", str(config), "send-test", str(SAMPLE), "--issue", issue, "--to", to, *extra]


def error_line(err: str) -> str:
    """The one error line (post warnings may come before it); never a traceback."""
    assert "Traceback" not in err
    errors = [line for line in err.splitlines() if ": warning: " not in line]
    assert len(errors) == 1, err
    assert errors[0].startswith("newsletter: error: ")
    return errors[0]


def test_send_test_delivers_the_issue(
    smtp_server: SmtpTestServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = write_config(tmp_path, smtp_server)
    rc = main(send_test(config, to="Rea Der <reader@example.com>"))
    out, err = capsys.readouterr()
    assert rc == 0, err
    assert out.count("\n") == 1
    subject = "3 of 5: Decrease in Pain"
    assert out.startswith(f"sent issue 3 of 5 ({subject!r}) to reader@example.com via 127.0.0.1:")
    assert out.rstrip().endswith("(none): 250 2.0.0 OK queued")
    [received] = smtp_server.messages
    assert received.mail_from == "chelsa@example.com" and received.rcpt_tos == (
        "reader@example.com",
    )
    msg = received.parsed()
    assert msg["Subject"] == "3 of 5: Decrease in Pain"
    assert msg["To"].addresses[0].display_name == "Rea Der"
    assert msg["Message-ID"] and msg["Date"] and msg["Reply-To"] == "chelsa@example.com"
    assert msg.get_content_type() == "multipart/alternative"
    plain, html = msg.get_body(("plain",)), msg.get_body(("html",))
    assert plain is not None and html is not None
    assert "Decrease in Pain" in plain.get_content() and "Decrease in Pain" in html.get_content()
    assert msg["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    links = [part.strip().strip("<>") for part in str(msg["List-Unsubscribe"]).split(",")]
    https = next(u for u in links if u.startswith("https://"))
    assert any(u.startswith("mailto:") for u in links)
    query = parse_qs(urlsplit(https).query)
    assert query["e"] == ["reader@example.com"]
    assert verify("reader@example.com", query["t"][0], SECRET.encode())
    assert https in html.get_content().replace("&amp;", "&")


def test_send_test_over_starttls_with_auth(
    smtp_server_factory: Factory,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    server = smtp_server_factory(tls="starttls", auth=("chelsa", PASSWORD))
    monkeypatch.setenv("NEWSLETTER_SMTP_PASSWORD", PASSWORD)
    assert main(send_test(write_config(tmp_path, server), issue="1")) == 0
    out, _ = capsys.readouterr()
    assert "sent issue 1 of 5" in out and "(starttls)" in out
    [received] = server.messages
    assert received.tls and received.auth_user == "chelsa"


def test_unreachable_server_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    config = write_config(tmp_path, None, host="127.0.0.1", port=port, security="none")
    assert main(send_test(config)) == 1
    _, err = capsys.readouterr()
    assert (
        error_line(err)
        == f"newsletter: error: cannot connect to 127.0.0.1:{port}: Connection refused"
    )


def test_refused_recipient_is_one_line_with_the_servers_text(
    smtp_server_factory: Factory, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    server = smtp_server_factory(reject={"reader@example.com": "mailbox unavailable"})
    assert main(send_test(write_config(tmp_path, server))) == 1
    _, err = capsys.readouterr()
    line = error_line(err)
    assert f"127.0.0.1:{server.port} did not take issue 3 for reader@example.com" in line
    assert "(permanent failure): 550 5.1.1 mailbox unavailable" in line
    assert server.messages == []


def test_self_signed_certificate_is_one_line(
    smtp_server_factory: Factory, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    server = smtp_server_factory(tls="starttls")
    assert main(send_test(write_config(tmp_path, server, ca_file=""))) == 1
    _, err = capsys.readouterr()
    line = error_line(err)
    assert f"cannot connect to 127.0.0.1:{server.port}: its TLS certificate is not trusted" in line
    assert "certificate" in line and "ca_file" in line


def test_missing_password_variable(
    smtp_server_factory: Factory, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    server = smtp_server_factory(tls="starttls", auth=("chelsa", PASSWORD))
    assert main(send_test(write_config(tmp_path, server))) == 1
    _, err = capsys.readouterr()
    line = error_line(err)
    assert "[smtp] username is set but the environment variable NEWSLETTER_SMTP_PASSWORD" in line
    assert server.connections == 0  # refused before connecting


def test_wrong_password_is_one_line_without_the_password(
    smtp_server_factory: Factory,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    server = smtp_server_factory(tls="starttls", auth=("chelsa", "the-real-one"))
    monkeypatch.setenv("NEWSLETTER_SMTP_PASSWORD", PASSWORD)
    assert main(send_test(write_config(tmp_path, server))) == 1
    out, err = capsys.readouterr()
    line = error_line(err)
    assert "refused the login for 'chelsa': 535" in line
    for text in (out, err, (tmp_path / "outbox.sqlite3").read_bytes().decode("latin-1")):
        assert PASSWORD not in text
        assert base64.b64encode(PASSWORD.encode()).decode() not in text


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--issue", "9"], "there is no issue 9: choose one of 1-5"),
        (["--to", "not-an-address"], "--to 'not-an-address' is not an email address"),
    ],
)
def test_bad_arguments(
    args: list[str],
    expected: str,
    smtp_server: SmtpTestServer,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    options = dict(zip(args[::2], args[1::2], strict=True))
    argv = send_test(
        write_config(tmp_path, smtp_server),
        issue=options.get("--issue", "3"),
        to=options.get("--to", "reader@example.com"),
    )
    assert main(argv) == 2  # a usage error
    _, err = capsys.readouterr()
    assert expected in error_line(err)
    assert smtp_server.messages == []


def test_unknown_security_mode(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = write_config(tmp_path, None, security="tls")
    assert main(send_test(config)) == 1
    _, err = capsys.readouterr()
    assert "[smtp] security = 'tls' is not one of: starttls, ssl, none" in error_line(err)


def test_through_the_installed_command(smtp_server_factory: Factory, tmp_path: Path) -> None:
    """The real entry point in a child process: exit status and output as a user sees them."""
    server = smtp_server_factory(reject={"nobody@example.com": "no such user"})
    config = write_config(tmp_path, server)
    ok = subprocess.run(
        [sys.executable, "-m", "newsletter", *send_test(config, issue="2")],
        capture_output=True, text=True, cwd=ROOT, timeout=60,
    )  # fmt: skip
    assert ok.returncode == 0, ok.stderr
    assert ok.stdout.startswith("sent issue 2 of 5")
    bad = subprocess.run(
        [sys.executable, "-m", "newsletter", *send_test(config, to="nobody@example.com")],
        capture_output=True, text=True, cwd=ROOT, timeout=60,
    )  # fmt: skip
    assert bad.returncode == 1 and bad.stdout == ""
    assert "550 5.1.1 no such user" in error_line(bad.stderr)
    assert [m.rcpt_tos for m in server.messages] == [("reader@example.com",)]


def test_help() -> None:
    with pytest.raises(SystemExit) as e:
        main(["send-test", "--help"])
    assert e.value.code == 0
