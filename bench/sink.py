"""The counting SMTP sink of the benchmarks, run in its own process so that our CPU figures are
ours alone. It keeps a count per recipient (to check each got one message), nothing else.

A round trip on the path: every reply leaves `rtt` seconds after the client's bytes came in, as
on a network, so commands sent together (PIPELINING, RFC 2920) wait once, while a server that
waits before each reply would make them wait one after another. On stdin it takes `rtt S`,
`pipelining on|off`, `mark` (restart the first-message clock), `after K` (FIRST is then the
K-th message's time since the mark) and `stats`; each answers
"MESSAGES RECIPIENTS TWICE CONNECTIONS FIRST LAST".

    python bench/sink.py     prints its port, then answers on stdin
"""

from __future__ import annotations

import asyncio
import dataclasses
import subprocess
import sys
import time
from collections import Counter


@dataclasses.dataclass
class _SinkState:
    rtt: float = 0.0
    pipelining: bool = True
    messages: int = 0
    connections: int = 0
    first: float = 0.0  # time.time() of the first message since the last "mark"
    last: float = 0.0
    received: Counter[str] = dataclasses.field(default_factory=Counter)
    times: list[float] = dataclasses.field(default_factory=list)  # arrivals since "mark"


async def _session(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, state: _SinkState
) -> None:
    loop = asyncio.get_running_loop()
    state.connections += 1
    replies: asyncio.Queue[tuple[float, bytes]] = asyncio.Queue()

    async def pump() -> None:  # replies leave in order, each `rtt` after its request came
        while True:
            due, data = await replies.get()
            if not data:
                return
            if (wait := due - loop.time()) > 0:
                await asyncio.sleep(wait)
            writer.write(data)

    sender = asyncio.create_task(pump())
    replies.put_nowait((loop.time() + state.rtt, b"220 sink ESMTP\r\n"))
    buffer, in_data = b"", False
    rcpts: list[str] = []
    try:
        while chunk := await reader.read(262144):
            came = loop.time()
            buffer += chunk
            out = []
            while True:
                if in_data:
                    end = 0 if buffer.startswith(b".\r\n") else buffer.find(b"\r\n.\r\n")
                    if end < 0:
                        break
                    buffer = buffer[end + (3 if end == 0 else 5) :]
                    in_data = False
                    state.messages += 1
                    state.last = time.time()
                    state.first = state.first or state.last
                    state.times.append(state.last)
                    state.received.update(rcpts)
                    out.append(b"250 2.0.0 queued")
                    continue
                line, sep, rest = buffer.partition(b"\r\n")
                if not sep:
                    break
                buffer = rest
                verb = line[:4].upper()
                if verb == b"EHLO":
                    extensions = [b"8BITMIME", b"SMTPUTF8", b"SIZE 52428800"]
                    if state.pipelining:
                        extensions.insert(0, b"PIPELINING")
                    out.extend(b"250-" + x for x in [b"sink", *extensions[:-1]])
                    out.append(b"250 " + extensions[-1])
                elif verb == b"MAIL":
                    rcpts = []
                    out.append(b"250 OK")
                elif verb == b"RCPT":
                    rcpts.append(line.split(b":", 1)[1].strip(b" <>").decode())
                    out.append(b"250 OK")
                elif verb == b"DATA":
                    in_data = True
                    out.append(b"354 go on")
                elif verb == b"QUIT":
                    out.append(b"221 bye")
                else:  # HELO, RSET, NOOP
                    out.append(b"250 OK")
            if out:
                replies.put_nowait((came + state.rtt, b"\r\n".join(out) + b"\r\n"))
    except ConnectionError:
        pass
    finally:
        replies.put_nowait((0.0, b""))
        await sender
        writer.close()


async def _sink(state: _SinkState) -> None:
    server = await asyncio.start_server(
        lambda r, w: _session(r, w, state), "127.0.0.1", 0, backlog=1024
    )
    print(server.sockets[0].getsockname()[1], flush=True)
    loop = asyncio.get_running_loop()
    async with server:
        while line := await loop.run_in_executor(None, sys.stdin.readline):
            verb, _, arg = line.strip().partition(" ")
            if verb == "rtt":
                state.rtt = float(arg)
            elif verb == "pipelining":
                state.pipelining = arg == "on"
            elif verb == "mark":
                state.first = 0.0
                state.times.clear()
            first = state.first
            if verb == "after" and len(state.times) >= int(arg) > 0:  # the K-th message's time
                first = state.times[int(arg) - 1]
            twice = sum(1 for n in state.received.values() if n > 1)
            print(
                f"{state.messages} {len(state.received)} {twice} {state.connections} "
                f"{first:.6f} {state.last:.6f}",
                flush=True,
            )


class Sink:
    """The sink in a child process: `port`, `ask("rtt 0.02")`, `stats()`."""

    def __init__(self) -> None:
        self._proc = subprocess.Popen(
            [sys.executable, __file__],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self._proc.stdout is not None
        self.port = int(self._proc.stdout.readline())

    def ask(self, command: str = "stats") -> tuple[int, int, int, int, float, float]:
        """(messages, distinct recipients, recipients with more than one, connections, and
        time.time() of the first message since the last "mark" and of the last one)."""
        assert self._proc.stdin is not None and self._proc.stdout is not None
        self._proc.stdin.write(command + "\n")
        self._proc.stdin.flush()
        a, b, c, d, first, last = self._proc.stdout.readline().split()
        return int(a), int(b), int(c), int(d), float(first), float(last)

    def close(self) -> None:
        if self._proc.stdin is not None:
            self._proc.stdin.close()
        self._proc.wait(timeout=10)


def main() -> None:
    asyncio.run(_sink(_SinkState()))


if __name__ == "__main__":
    main()
