"""The SMTP transport against real aiosmtpd servers on 127.0.0.1 (tests/smtpd.py), no mocks."""

from __future__ import annotations

import base64
import dataclasses
import email.policy
import logging
import shutil
import socket
import subprocess
import threading
import time
import traceback
from collections.abc import Callable
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest

from newsletter.config import DkimSettings, Settings, settings_from_dict, validate
from newsletter.errors import ConfigError, DeliveryError
from newsletter.mailer import (
    RateLimiter,
    SendResult,
    SmtpConnection,
    check_message,
    dkim_sign,
    flatten,
)
from tests.smtpd import SmtpTestServer, settings_for

Factory = Callable[..., SmtpTestServer]
FROM = "news@example.com"
PASSWORD = "s3cr3t-Pa55w0rd-xyzzy"


def make_msg(
    to: str = "reader@example.com",
    subject: str = "Improved Sleep",
    body: str = "Massage helps you sleep.\n",
) -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = f"Body & Mind Notes <{FROM}>"
    msg["To"] = to
    msg["Subject"] = subject
    msg["Message-ID"] = "<test-1@example.com>"
    msg["Date"] = "Mon, 06 Jan 2025 09:00:00 +0000"
    msg.set_content(body)
    msg.add_alternative(f"<p>{body}</p>", subtype="html")
    return msg


def raw_msg(**headers: str) -> EmailMessage:
    """A message with the old compat32 policy, which stores header values as given."""
    msg = email.message_from_bytes(
        make_msg().as_bytes(), policy=email.policy.compat32, _class=EmailMessage
    )
    assert isinstance(msg, EmailMessage)
    for name, value in headers.items():
        msg.replace_header(name, value)
    return msg


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def no_sleep(delays: list[float]) -> Callable[[float], None]:
    return delays.append


# -- one connection, many messages --------------------------------------------------------------


def test_many_messages_share_one_connection(smtp_server: SmtpTestServer) -> None:
    with SmtpConnection(settings_for(smtp_server)) as conn:
        results = [
            conn.send(make_msg(f"r{i}@example.com"), FROM, f"r{i}@example.com") for i in range(25)
        ]
    assert all(r.status == "sent" and r.code == 250 for r in results), results
    assert smtp_server.connections == 1 and conn.connects == 1
    received = smtp_server.messages
    assert [m.rcpt_tos for m in received] == [(f"r{i}@example.com",) for i in range(25)]
    assert all(m.mail_from == FROM for m in received)
    parsed = received[3].parsed()
    assert parsed["To"] == "r3@example.com" and parsed["Subject"] == "Improved Sleep"
    assert {p.get_content_type() for p in parsed.walk()} >= {"text/plain", "text/html"}


def test_parallel_connections_each_persist(smtp_server: SmtpTestServer) -> None:
    settings = settings_for(smtp_server)
    limiter = RateLimiter(0.0)
    results: list[SendResult] = []
    lock = threading.Lock()

    def worker(n: int) -> None:
        with SmtpConnection(settings) as conn:
            for i in range(10):
                limiter.wait()
                r = conn.send(make_msg(), FROM, f"w{n}-{i}@example.com")
                with lock:
                    results.append(r)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(results) == 40 and all(r.ok for r in results)
    assert smtp_server.connections == 4
    assert len({m.rcpt_tos for m in smtp_server.messages}) == 40


def test_open_is_lazy_in_send_and_close_says_quit(smtp_server: SmtpTestServer) -> None:
    conn = SmtpConnection(settings_for(smtp_server))
    assert conn.send(make_msg(), FROM, "a@example.com").ok
    conn.close()
    conn.close()  # twice is fine
    assert conn.send(make_msg(), FROM, "b@example.com").ok  # reopens
    conn.close()
    assert smtp_server.connections == 2


# -- a server that hangs up or hangs -----------------------------------------------------------


def test_reconnects_when_the_server_hangs_up_mid_batch(smtp_server_factory: Factory) -> None:
    server = smtp_server_factory(hangup_after=3)
    with SmtpConnection(settings_for(server)) as conn:
        results = [conn.send(make_msg(), FROM, f"r{i}@example.com") for i in range(10)]
    assert all(r.ok for r in results), results
    addresses = [m.rcpt_tos[0] for m in server.messages]
    assert addresses == [f"r{i}@example.com" for i in range(10)]  # each once, in order
    assert server.hangups == 3 and server.connections == 4 and conn.connects == 4


def test_hangup_before_the_final_reply_is_unknown_never_resent(
    smtp_server_factory: Factory,
) -> None:
    """The body went out: the server may have it, so the message is not sent again here."""
    server = smtp_server_factory(hangup_after=2, hangup_phase="data", hangup_connections=1)
    delays: list[float] = []
    with SmtpConnection(settings_for(server), sleep=no_sleep(delays)) as conn:
        results = [conn.send(make_msg(), FROM, f"r{i}@example.com") for i in range(5)]
    assert [r.status for r in results] == ["sent", "sent", "unknown", "sent", "sent"]
    assert "dropped before the final reply" in results[2].detail and results[2].code is None
    assert server.rcpt_attempts("r2@example.com") == 1
    assert [m.rcpt_tos[0] for m in server.messages] == [f"r{i}@example.com" for i in (0, 1, 3, 4)]
    assert delays == [] and server.connections == 2


def test_a_server_silent_after_the_body_is_unknown_after_data_timeout(
    smtp_server_factory: Factory,
) -> None:
    server = smtp_server_factory(hang_on="data", hang_seconds=5, hang_times=1)
    started = time.monotonic()
    with SmtpConnection(settings_for(server, timeout=0.2, data_timeout=0.5)) as conn:
        result = conn.send(make_msg(), FROM, "a@example.com")
        assert result.status == "unknown", result
        assert "no final reply within 0.5 s (data_timeout)" in result.detail
        assert 0.5 <= time.monotonic() - started < 4
        assert conn.send(make_msg(), FROM, "b@example.com").ok  # a fresh connection
    assert [m.rcpt_tos for m in server.messages] == [("b@example.com",)]
    assert server.rcpt_attempts("a@example.com") == 1 and server.connections == 2


def test_the_final_reply_waits_data_timeout_not_timeout(smtp_server_factory: Factory) -> None:
    """RFC 5321 §4.5.3.2.6: a server may take long to answer the final dot."""
    server = smtp_server_factory(answer_late=0.6)
    with SmtpConnection(settings_for(server, timeout=0.2, data_timeout=3)) as conn:
        result = conn.send(make_msg(), FROM, "a@example.com")
    assert result.ok, result
    assert len(server.messages) == 1 and server.connections == 1


def test_silent_server_at_connect_is_a_one_line_error(smtp_server_factory: Factory) -> None:
    server = smtp_server_factory(hang_on="connect", hang_seconds=5, hang_times=0)
    conn = SmtpConnection(settings_for(server, timeout=0.3))
    with pytest.raises(DeliveryError) as e:
        conn.open()
    msg = str(e.value)
    assert f"127.0.0.1:{server.port}" in msg and "no answer within 0.3 s" in msg
    assert "\n" not in msg


def test_dropped_connection_gives_temporary_after_backoff_with_jitter() -> None:
    port = free_port()
    settings = settings_for_host("127.0.0.1", port)
    delays: list[float] = []
    conn = SmtpConnection(settings, retries=3, backoff=0.2, sleep=no_sleep(delays))
    result = conn.send(make_msg(), FROM, "a@example.com")
    assert result.status == "temporary" and result.code is None
    assert f"cannot connect to 127.0.0.1:{port}: Connection refused" in result.detail
    # attempt 2 at once, then 0.2 s and 0.4 s, each stretched by up to 50 % jitter
    assert len(delays) == 2
    assert 0.2 <= delays[0] <= 0.3 and 0.4 <= delays[1] <= 0.6


def settings_for_host(host: str, port: int, **smtp: Any) -> Settings:
    base = Settings(base_dir=Path.cwd())
    values: dict[str, Any] = {"host": host, "port": port, "security": "none", "timeout": 2.0}
    values.update(smtp)
    return validate(dataclasses.replace(base, smtp=dataclasses.replace(base.smtp, **values)))


def test_unreachable_host_is_a_delivery_error_naming_it() -> None:
    port = free_port()
    with pytest.raises(
        DeliveryError, match=rf"^cannot connect to 127\.0\.0\.1:{port}: Connection refused$"
    ):
        SmtpConnection(settings_for_host("127.0.0.1", port)).open()
    with pytest.raises(DeliveryError, match=r"^cannot connect to no-such-host\.invalid:587: "):
        SmtpConnection(settings_for_host("no-such-host.invalid", 587)).open()


# -- server answers ----------------------------------------------------------------------------


def test_451_is_temporary_550_is_permanent_with_the_servers_text(
    smtp_server_factory: Factory,
) -> None:
    server = smtp_server_factory(
        reject={"gone@example.com": "no such user here"}, tempfail={"busy@example.com": 1}
    )
    with SmtpConnection(settings_for(server)) as conn:
        busy = conn.send(make_msg(), FROM, "busy@example.com")
        gone = conn.send(make_msg(), FROM, "gone@example.com")
        fine = conn.send(make_msg(), FROM, "fine@example.com")
        busy_again = conn.send(make_msg(), FROM, "busy@example.com")
    assert busy.status == "temporary" and busy.code == 451 and "try again later" in busy.detail
    assert gone == SendResult("permanent", 550, "5.1.1 no such user here", recipient=True)
    assert fine.ok and busy_again.ok
    assert [m.rcpt_tos[0] for m in server.messages] == ["fine@example.com", "busy@example.com"]
    assert server.connections == 1  # refusals leave the connection usable (RSET)


def test_451_after_data_is_temporary(smtp_server_factory: Factory) -> None:
    server = smtp_server_factory(tempfail_every=2)
    with SmtpConnection(settings_for(server)) as conn:
        results = [conn.send(make_msg(), FROM, f"r{i}@example.com") for i in range(4)]
    assert [r.status for r in results] == ["sent", "temporary", "sent", "temporary"]
    assert results[1].code == 451 and "deferred" in results[1].detail
    assert len(server.messages) == 2


def test_421_closing_is_reconnected_and_retried(smtp_server_factory: Factory) -> None:
    server = smtp_server_factory(tempfail_every=2, tempfail_code=421)
    with SmtpConnection(settings_for(server)) as conn:
        results = [conn.send(make_msg(), FROM, f"r{i}@example.com") for i in range(3)]
    assert all(r.ok for r in results), results
    assert [m.rcpt_tos[0] for m in server.messages] == [
        "r0@example.com",
        "r1@example.com",
        "r2@example.com",
    ]
    assert server.connections == 3  # the 2nd and 4th DATA got 421: one reconnect each


# -- TLS ---------------------------------------------------------------------------------------


def test_starttls_with_a_self_signed_cert_is_refused_while_verifying(
    smtp_server_factory: Factory,
) -> None:
    server = smtp_server_factory(tls="starttls")
    with pytest.raises(DeliveryError) as e:
        SmtpConnection(settings_for(server, ca_file="")).open()
    msg = str(e.value)
    assert msg.startswith(
        f"cannot connect to 127.0.0.1:{server.port}: its TLS certificate is not trusted"
    )
    assert "self-signed certificate" in msg.replace("self signed", "self-signed")
    assert "ca_file" in msg
    assert server.messages == []


def test_starttls_works_with_ca_file(smtp_server_factory: Factory) -> None:
    server = smtp_server_factory(tls="starttls")
    settings = settings_for(server)
    assert settings.smtp.ca_file and settings.smtp.security == "starttls"
    with SmtpConnection(settings) as conn:
        assert conn.send(make_msg(), FROM, "a@example.com").ok
    assert server.messages[0].tls


def test_starttls_works_when_verification_is_explicitly_off(smtp_server_factory: Factory) -> None:
    server = smtp_server_factory(tls="starttls")
    with SmtpConnection(settings_for(server, ca_file="", verify_tls=False)) as conn:
        assert conn.send(make_msg(), FROM, "a@example.com").ok
    assert server.messages[0].tls


def test_starttls_required_but_not_offered(smtp_server: SmtpTestServer) -> None:
    with pytest.raises(DeliveryError, match="does not offer STARTTLS"):
        SmtpConnection(settings_for(smtp_server, security="starttls")).open()


def test_implicit_tls(smtp_server_factory: Factory) -> None:
    server = smtp_server_factory(tls="ssl")
    with SmtpConnection(settings_for(server)) as conn:
        assert conn.send(make_msg(), FROM, "a@example.com").ok
    assert server.messages[0].tls
    with pytest.raises(DeliveryError, match="its TLS certificate is not trusted"):
        SmtpConnection(settings_for(server, ca_file="")).open()


def test_wrong_security_mode_for_the_port_says_what_to_change(
    smtp_server_factory: Factory, smtp_server: SmtpTestServer
) -> None:
    implicit = smtp_server_factory(tls="ssl")
    with pytest.raises(DeliveryError, match=r'no answer within 0\.5 s; .* security = "ssl"'):
        SmtpConnection(settings_for(implicit, security="starttls", timeout=0.5)).open()
    with pytest.raises(DeliveryError, match=r"TLS failed .*check \[smtp\] security"):
        SmtpConnection(settings_for(smtp_server, security="ssl")).open()


def test_missing_ca_file_is_a_config_error(smtp_server_factory: Factory, tmp_path: Path) -> None:
    server = smtp_server_factory(tls="starttls")
    with pytest.raises(ConfigError, match=r"\[smtp\] ca_file .*nope\.pem does not exist"):
        SmtpConnection(settings_for(server, ca_file=str(tmp_path / "nope.pem")))


# -- AUTH and the password ---------------------------------------------------------------------


def test_auth_success(smtp_server_factory: Factory, monkeypatch: pytest.MonkeyPatch) -> None:
    server = smtp_server_factory(tls="starttls", auth=("chelsa", PASSWORD))
    monkeypatch.setenv("NEWSLETTER_SMTP_PASSWORD", PASSWORD)
    with SmtpConnection(settings_for(server)) as conn:
        assert conn.send(make_msg(), FROM, "a@example.com").ok
    assert server.messages[0].auth_user == "chelsa" and server.messages[0].tls


def test_auth_over_plain_loopback_is_allowed_elsewhere_refused(
    smtp_server_factory: Factory, monkeypatch: pytest.MonkeyPatch
) -> None:
    server = smtp_server_factory(auth=("chelsa", PASSWORD))
    monkeypatch.setenv("NEWSLETTER_SMTP_PASSWORD", PASSWORD)
    with SmtpConnection(settings_for(server)) as conn:
        assert conn.send(make_msg(), FROM, "a@example.com").ok
    with pytest.raises(ConfigError, match='security = "none" would send the password'):
        settings_for(server, host="smtp.example.com")


def test_failed_auth_never_shows_the_password(
    smtp_server_factory: Factory,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    capfd: pytest.CaptureFixture[str],
) -> None:
    caplog.set_level(logging.DEBUG)
    server = smtp_server_factory(tls="starttls", auth=("chelsa", "the-right-one"))
    monkeypatch.setenv("NEWSLETTER_SMTP_PASSWORD", PASSWORD)
    conn = SmtpConnection(settings_for(server))
    with pytest.raises(DeliveryError) as e:
        conn.open()
    msg = str(e.value)
    assert msg.startswith(f"127.0.0.1:{server.port} refused the login for 'chelsa': 535")
    assert "$NEWSLETTER_SMTP_PASSWORD" in msg
    assert server.auth_failures >= 1
    out, err = capfd.readouterr()
    everything = "\n".join(
        [
            msg,
            repr(e.value),
            "".join(traceback.format_exception(e.value)),
            repr(conn),
            str(vars(conn)),
            caplog.text,
            out,
            err,
        ]
    )
    for form in (
        PASSWORD,
        base64.b64encode(PASSWORD.encode()).decode(),
        base64.b64encode(f"\0chelsa\0{PASSWORD}".encode()).decode(),
    ):
        assert form not in everything


def test_missing_password_variable_names_it_not_a_value(
    smtp_server_factory: Factory, monkeypatch: pytest.MonkeyPatch
) -> None:
    server = smtp_server_factory(tls="starttls", auth=("chelsa", PASSWORD))
    monkeypatch.delenv("MY_SMTP_PW", raising=False)
    with pytest.raises(ConfigError) as e:
        SmtpConnection(settings_for(server, password_env="MY_SMTP_PW"))
    assert "environment variable MY_SMTP_PW" in str(e.value) and "unset or empty" in str(e.value)
    monkeypatch.setenv("MY_SMTP_PW", "")
    with pytest.raises(ConfigError, match="MY_SMTP_PW"):
        SmtpConnection(settings_for(server, password_env="MY_SMTP_PW"))


def test_unknown_security_mode_is_a_config_error(smtp_server: SmtpTestServer) -> None:
    with pytest.raises(ConfigError, match=r"\[smtp\] security = 'tls' is not one of"):
        SmtpConnection(settings_for(smtp_server, security="tls"))


# -- addresses and headers ---------------------------------------------------------------------


def test_non_ascii_recipient_goes_with_smtputf8(smtp_server: SmtpTestServer) -> None:
    to = "jörg.müller@bücher.example"
    with SmtpConnection(settings_for(smtp_server)) as conn:
        result = conn.send(make_msg(to=f"Jörg <{to}>"), FROM, to)
    assert result.ok, result
    received = smtp_server.messages[0]
    assert received.rcpt_tos == ("jörg.müller@xn--bcher-kva.example",)  # domain as A-label
    assert "SMTPUTF8" in received.mail_options
    assert f"<{to}>".encode() in received.header_block  # raw UTF-8, not an encoded word
    assert received.parsed()["To"].addresses[0].addr_spec == to


def test_non_ascii_local_part_without_smtputf8_is_permanent(smtp_server_factory: Factory) -> None:
    server = smtp_server_factory(smtputf8=False)
    with SmtpConnection(settings_for(server)) as conn:
        result = conn.send(make_msg(to="jörg@bücher.example"), FROM, "jörg@bücher.example")
        ascii_ok = conn.send(make_msg(), FROM, "a@example.com")
        idn_ok = conn.send(
            make_msg(to="reader@xn--bcher-kva.example"), FROM, "reader@bücher.example"
        )
    assert result.status == "permanent" and result.code is None
    assert "does not support SMTPUTF8" in result.detail and "jörg@" in result.detail
    assert ascii_ok.ok and idn_ok.ok
    assert [m.rcpt_tos for m in server.messages] == [
        ("a@example.com",),
        ("reader@xn--bcher-kva.example",),  # a non-ASCII domain alone needs no SMTPUTF8
    ]
    assert all("SMTPUTF8" not in m.mail_options for m in server.messages)


def test_non_ascii_body_is_sent_8bit(smtp_server: SmtpTestServer) -> None:
    body = "Schlaf verbessert sich – spürbar, naïve café.\n"
    with SmtpConnection(settings_for(smtp_server)) as conn:
        assert conn.send(make_msg(subject="Schöner schlafen", body=body), FROM, "a@example.com").ok
    received = smtp_server.messages[0]
    parsed = received.parsed()
    assert parsed["Subject"] == "Schöner schlafen"
    assert b"=?utf-8?" in received.header_block  # encoded word: no SMTPUTF8 needed
    plain = parsed.get_body(("plain",))
    assert plain is not None and plain.get_content() == body


def test_header_injection_cannot_add_a_header_on_the_wire(smtp_server: SmtpTestServer) -> None:
    with pytest.raises(ValueError):  # the modern API refuses to build it at all
        make_msg(subject="Hello\r\nBcc: evil@example.com")
    attempts = [
        raw_msg(Subject="Hello\r\nBcc: evil@example.com"),
        raw_msg(Subject="Hello\nBcc: evil@example.com"),
        raw_msg(Subject="Hello\rBcc: evil@example.com"),
        raw_msg(To="Eve\r\nBcc: evil@example.com <a@example.com>"),
    ]
    with SmtpConnection(settings_for(smtp_server)) as conn:
        results = [conn.send(m, FROM, "a@example.com") for m in attempts]
        crlf_rcpt = conn.send(make_msg(), FROM, "a@example.com>\r\nRCPT TO:<evil@example.com")
        folded = conn.send(make_msg(subject="A long subject " * 12), FROM, "a@example.com")
    for r in results:
        assert r.status == "permanent" and "line break (header injection)" in r.detail
    assert crlf_rcpt.status == "permanent" and "not a plain address" in crlf_rcpt.detail
    assert folded.ok  # folding a long header is fine
    received = smtp_server.messages
    assert len(received) == 1
    assert b"evil" not in received[0].data
    names = [
        line.split(b":")[0]
        for line in received[0].header_block.split(b"\r\n")
        if line[:1] not in (b" ", b"\t")
    ]
    assert sorted(names) == sorted(
        [b"From", b"To", b"Subject", b"Message-ID", b"Date", b"MIME-Version", b"Content-Type"]
    )


def test_check_message_accepts_legitimately_folded_raw_headers() -> None:
    msg = raw_msg(Subject="A subject that was\r\n folded by someone")
    assert check_message(msg, FROM, "a@example.com") is None
    assert flatten(msg).count(b"\r\n") >= flatten(msg).count(b"\n")  # CRLF only on the wire


# -- rate limit --------------------------------------------------------------------------------


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def test_rate_limiter_spaces_messages_evenly() -> None:
    clock = FakeClock()
    limiter = RateLimiter(0.5, clock=clock, sleep=clock.sleep)
    for _ in range(5):
        limiter.wait()
    assert clock.sleeps == [0.5, 0.5, 0.5, 0.5] and clock.now == 2.0
    clock.now = 10.0  # idle for a while: no debt, no burst beyond the rate
    limiter.wait()
    limiter.wait()
    assert clock.sleeps[-1] == 0.5


@pytest.mark.parametrize(("rate", "period", "interval"), [(100, "hour", 36.0), (30, "minute", 2.0)])
def test_rate_limiter_periods(rate: float, period: str, interval: float) -> None:
    clock = FakeClock()
    settings = settings_from_dict({"smtp": {"rate_limit": rate, "rate_period": period}})
    limiter = RateLimiter(settings.smtp.rate_interval, clock=clock, sleep=clock.sleep)
    for _ in range(4):
        limiter.wait()
    assert clock.sleeps == [interval] * 3


def test_rate_limiter_gives_each_thread_its_own_slot() -> None:
    clock = FakeClock()
    sleeps: list[float] = []
    lock = threading.Lock()

    def record(seconds: float) -> None:  # the clock stands still: every slot is distinct
        with lock:
            sleeps.append(seconds)

    limiter = RateLimiter(0.1, clock=clock, sleep=record)

    def worker() -> None:
        for _ in range(25):
            limiter.wait()

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(round(s, 6) for s in sleeps) == [round(0.1 * k, 6) for k in range(1, 100)]


def test_rate_limiter_off_and_bad_period() -> None:
    clock = FakeClock()
    limiter = RateLimiter(Settings().smtp.rate_interval, clock=clock, sleep=clock.sleep)
    for _ in range(100):
        limiter.wait()
    assert clock.sleeps == []
    with pytest.raises(ConfigError, match="rate_period = 'day'"):
        settings_from_dict({"smtp": {"rate_limit": 5, "rate_period": "day"}})


def test_rate_limit_paces_a_real_send(smtp_server: SmtpTestServer) -> None:
    settings = settings_for(smtp_server, rate_limit=20)
    limiter = RateLimiter.from_settings(settings)
    started = time.monotonic()
    with SmtpConnection(settings) as conn:
        for i in range(6):
            limiter.wait()
            assert conn.send(make_msg(), FROM, f"r{i}@example.com").ok
    assert time.monotonic() - started >= 0.25  # 5 gaps of 50 ms


# -- DKIM --------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def dkim_key(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, bytes]:
    """An RSA key made with openssl, and its DNS TXT record."""
    openssl = shutil.which("openssl")
    assert openssl, "openssl is needed to make a DKIM test key"
    folder = tmp_path_factory.mktemp("dkim")
    key = folder / "dkim.pem"
    subprocess.run([openssl, "genrsa", "-out", str(key), "2048"], check=True, capture_output=True)
    der = subprocess.run(
        [openssl, "rsa", "-in", str(key), "-pubout", "-outform", "DER"],
        check=True,
        capture_output=True,
    ).stdout
    return key, b"v=DKIM1; k=rsa; p=" + base64.b64encode(der)


def dkim_settings(base: Settings, key: Path) -> Settings:
    return dataclasses.replace(
        base, dkim=DkimSettings(selector="nl2025", domain="example.com", key_file=str(key))
    )


def verify_dkim(data: bytes, record: bytes) -> bool:
    import dkim

    def dns(name: bytes, timeout: int = 5) -> bytes:
        assert name == b"nl2025._domainkey.example.com."
        return record

    return bool(dkim.verify(data, dnsfunc=dns))


def test_dkim_sign_verifies_and_detects_tampering(dkim_key: tuple[Path, bytes]) -> None:
    key, record = dkim_key
    msg = make_msg()
    msg["List-Unsubscribe"] = "<https://example.com/u/abc>, <mailto:u@example.com>"
    msg["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    settings = dkim_settings(Settings(), key)
    signed = dkim_sign(flatten(msg), settings)
    assert signed.startswith(b"DKIM-Signature: ")
    sig_header = signed.split(b"\r\n\r\n")[0]
    assert b"list-unsubscribe-post" in sig_header.lower() and b"d=example.com" in sig_header
    assert verify_dkim(signed, record)
    assert not verify_dkim(signed.replace(b"Massage helps", b"Massage hurts"), record)
    assert (
        dkim_sign(b"From: a@example.com\r\n\r\nx\r\n", Settings())
        == b"From: a@example.com\r\n\r\nx\r\n"
    )


def test_dkim_signed_message_verifies_after_the_trip(
    smtp_server: SmtpTestServer, dkim_key: tuple[Path, bytes]
) -> None:
    key, record = dkim_key
    settings = dkim_settings(settings_for(smtp_server), key)
    with SmtpConnection(settings) as conn:
        assert conn.send(make_msg(body=".leading dot\nline two\n"), FROM, "a@example.com").ok
    data = smtp_server.messages[0].data
    assert data.startswith(b"DKIM-Signature:") and verify_dkim(data, record)


def test_dkim_bad_settings(smtp_server: SmtpTestServer, tmp_path: Path) -> None:
    base = settings_for(smtp_server)
    half = dataclasses.replace(base, dkim=DkimSettings(selector="s1"))
    with pytest.raises(ConfigError, match=r"\[dkim\] domain, key_file missing"):
        SmtpConnection(half)
    missing = dkim_settings(base, tmp_path / "none.pem")
    with pytest.raises(ConfigError, match=r"\[dkim\] key_file .*none\.pem: cannot read"):
        SmtpConnection(missing)
    (tmp_path / "junk.pem").write_text("hello")
    with pytest.raises(ConfigError, match="not a PEM private key"):
        dkim_sign(b"From: a@example.com\r\n\r\nx\r\n", dkim_settings(base, tmp_path / "junk.pem"))


# -- the test server's own knobs (other test files rely on them) -------------------------------


def test_server_knobs_hang_on_mail_and_count_attempts(smtp_server_factory: Factory) -> None:
    server = smtp_server_factory(hang_on="mail", hang_seconds=5, tempfail={"x@example.com": 2})
    with SmtpConnection(settings_for(server, timeout=0.4)) as conn:
        first = conn.send(make_msg(), FROM, "x@example.com")  # hang at MAIL, then 451
        second = conn.send(make_msg(), FROM, "x@example.com")  # 451 again
        third = conn.send(make_msg(), FROM, "x@example.com")
    assert (first.code, second.code, third.code) == (451, 451, 250)
    assert server.rcpt_attempts("X@example.com") == 3
    assert server.connections == 2  # the hang cost one connection
    assert len(server.wait_for(1, timeout=1)) == 1


def test_server_knobs_421_at_rcpt_closes_and_slow_replies(smtp_server_factory: Factory) -> None:
    server = smtp_server_factory(tempfail={"x@example.com": 1}, tempfail_code=421)
    with SmtpConnection(settings_for(server)) as conn:
        assert conn.send(make_msg(), FROM, "x@example.com").ok
    assert server.connections == 2 and server.rcpt_attempts("x@example.com") == 2
    slow = smtp_server_factory(reply_delay=0.05)
    started = time.monotonic()
    with SmtpConnection(settings_for(slow)) as conn:  # greeting, EHLO: 2 round trips
        assert conn.send(make_msg(), FROM, "a@example.com").ok  # MAIL, RCPT, DATA, end: 4
    assert 0.3 <= time.monotonic() - started < 3  # 6 replies x 50 ms; slack for a busy machine
