"""A counting SMTP sink for the benchmarks: keeps nothing but a count, so a 100,000-message run
costs it no memory, and runs in its own process, so it never shares the interpreter with the
sender it measures.

`--rtt S` puts a round trip on the path: every chunk a client writes is held S seconds before the
sink reads it, as a network would; commands sent together (PIPELINING, RFC 2920) wait once. It
offers PIPELINING, 8BITMIME, SMTPUTF8 and SIZE, answers 250 to everything it accepts, and keeps
no message.

    python bench/sink.py [--rtt 0.02]     prints "port N"; then on stdin, "count" answers
                                          "COUNT FIRST LAST" (messages, first and last time.time())
"""

from __future__ import annotations

import argparse
import asyncio
import subprocess
import sys
import time

CAPABILITIES = (b"PIPELINING", b"8BITMIME", b"SMTPUTF8", b"SIZE 52428800")


class Counter:
    def __init__(self) -> None:
        self.count = 0
        self.first = 0.0
        self.last = 0.0

    def add(self) -> None:
        now = time.time()
        if not self.count:
            self.first = now
        self.count += 1
        self.last = now


async def _session(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, counter: Counter, rtt: float
) -> None:
    writer.write(b"220 sink ESMTP\r\n")
    buffer = b""
    in_data = False
    try:
        while True:
            chunk = await reader.read(262144)
            if not chunk:
                return
            if rtt:
                await asyncio.sleep(rtt)
            buffer += chunk
            replies = []
            while True:
                if in_data:
                    end = buffer.find(b"\r\n.\r\n")
                    if end < 0:
                        break
                    buffer = buffer[end + 5 :]
                    in_data = False
                    counter.add()
                    replies.append(b"250 2.0.0 queued")
                    continue
                line, sep, rest = buffer.partition(b"\r\n")
                if not sep:
                    break
                buffer = rest
                verb = line[:4].upper()
                if verb == b"EHLO":
                    names = (b"sink", *CAPABILITIES)
                    replies.append(
                        b"\r\n".join(
                            (b"250-" if i < len(names) - 1 else b"250 ") + n
                            for i, n in enumerate(names)
                        )
                    )
                elif verb == b"DATA":
                    in_data = True
                    replies.append(b"354 end with <CRLF>.<CRLF>")
                    if buffer.startswith(b".\r\n"):  # an empty body
                        buffer = b"\r\n" + buffer
                elif verb == b"QUIT":
                    writer.write(b"221 bye\r\n")
                    await writer.drain()
                    return
                else:  # HELO, MAIL, RCPT, RSET, NOOP
                    replies.append(b"250 OK")
            if replies:
                writer.write(b"\r\n".join(replies) + b"\r\n")
                await writer.drain()
    except (ConnectionError, asyncio.IncompleteReadError):
        return
    finally:
        writer.close()


async def _control(counter: Counter) -> None:
    loop = asyncio.get_running_loop()
    while True:
        line = await loop.run_in_executor(None, sys.stdin.readline)
        if not line:
            return
        print(f"{counter.count} {counter.first:.6f} {counter.last:.6f}", flush=True)


async def serve(rtt: float) -> None:
    counter = Counter()
    server = await asyncio.start_server(
        lambda r, w: _session(r, w, counter, rtt), "127.0.0.1", 0, backlog=512
    )
    port = server.sockets[0].getsockname()[1]
    print(f"port {port}", flush=True)
    async with server:
        await _control(counter)


class Sink:
    """The sink in a child process, for a benchmark: `port`, `count()`, `close()`."""

    def __init__(self, rtt: float = 0.0) -> None:
        self._proc = subprocess.Popen(
            [sys.executable, __file__, "--rtt", str(rtt)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self._proc.stdout is not None
        self.port = int(self._proc.stdout.readline().split()[1])

    def count(self) -> tuple[int, float, float]:
        """(messages so far, time.time() of the first, of the last)."""
        assert self._proc.stdin is not None and self._proc.stdout is not None
        self._proc.stdin.write("count\n")
        self._proc.stdin.flush()
        n, first, last = self._proc.stdout.readline().split()
        return int(n), float(first), float(last)

    def close(self) -> None:
        if self._proc.stdin is not None:
            self._proc.stdin.close()
        self._proc.terminate()
        self._proc.wait(timeout=10)

    def __enter__(self) -> Sink:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rtt", type=float, default=0.0, help="seconds each chunk is held")
    args = parser.parse_args()
    asyncio.run(serve(args.rtt))


if __name__ == "__main__":
    main()
