"""One open live stream as a plain ASGI app: the board's frames, heartbeats and a clean end.

Deliberate choices:
  * The request's own task sends; one small task per stream watches for the client's
    disconnect. sse-starlette's response runs three tasks and an anyio task group per
    stream, which cost about 13 KiB of the 35 KiB each stream took in the fan-out bench.
  * Frames come encoded once per snapshot from the hub; a send only hands bytes on.
  * A send that waits longer than the send timeout (the client stopped reading and the
    socket buffers are full) drops the stream; every other stream carries on.
  * Shutdown is learnt from uvicorn through sse-starlette's AppStatus (see
    close_on_server_exit): uvicorn waits for open streams before it runs the lifespan's
    shutdown, so the lifespan alone would learn of it too late.
"""

from __future__ import annotations

import asyncio
import logging
import signal

from litestar.types import Message, Receive, Scope, Send
from sse_starlette.event import ServerSentEvent
from sse_starlette.sse import AppStatus

from notify.hub import BoardHub

log = logging.getLogger(__name__)
RETRY_MILLISECONDS = 2000
RETRY_FRAME = ServerSentEvent(retry=RETRY_MILLISECONDS, sep="\n").encode()
HEARTBEAT_FRAME = ServerSentEvent(comment="heartbeat", sep="\n").encode()
HEADERS = [
    (b"content-type", b"text/event-stream; charset=utf-8"),
    (b"cache-control", b"no-store"),
    (b"x-accel-buffering", b"no"),
]
END: Message = {"type": "http.response.body", "body": b"", "more_body": False}


class SendTimedOut(Exception):
    """The client stopped reading: its stream is dropped."""


class LiveStream:
    """Streams one board to one client until it leaves, stalls or the hub closes."""

    def __init__(
        self,
        hub: BoardHub,
        board: str,
        seen_version: int | None,
        heartbeat_seconds: float,
        send_timeout_seconds: float,
    ) -> None:
        self.hub = hub
        self.board = board
        self.seen_version = seen_version
        self.heartbeat_seconds = heartbeat_seconds
        self.send_timeout_seconds = send_timeout_seconds

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        gone = asyncio.ensure_future(until_disconnect(receive))
        try:
            await send({"type": "http.response.start", "status": 200, "headers": HEADERS})
            await self._send(send, body(RETRY_FRAME))
            frames = self.hub.follow(
                self.board, self.seen_version, self.heartbeat_seconds, until=gone
            )
            async for snapshot in frames:
                frame = HEARTBEAT_FRAME if snapshot is None else snapshot.frame
                await self._send(send, body(frame))
            if not gone.done():
                await self._send(send, END)
        except SendTimedOut:
            # The response stays unfinished: uvicorn then closes the connection.
            log.warning("stream_dropped reason=stalled board=%s", self.board)
        finally:
            gone.cancel()

    async def _send(self, send: Send, message: Message) -> None:
        """Sends a message, or raises SendTimedOut when the client takes too long to take it."""
        try:
            async with asyncio.timeout(self.send_timeout_seconds):
                await send(message)
        except TimeoutError:
            raise SendTimedOut from None


def body(frame: bytes) -> Message:
    """An ASGI body message that keeps the response open."""
    return {"type": "http.response.body", "body": frame, "more_body": True}


async def until_disconnect(receive: Receive) -> None:
    """Returns when the client has gone (a GET stream's body is empty, so nothing else
    comes)."""
    while (await receive())["type"] != "http.disconnect":
        pass


def server_is_exiting() -> bool:
    """True once uvicorn has been told to stop: sse-starlette's hook on uvicorn's exit
    handler, or the flag of the uvicorn server that owns the SIGTERM handler (the hook
    misses a server whose handlers were installed before sse-starlette was imported)."""
    server = getattr(signal.getsignal(signal.SIGTERM), "__self__", None)
    return AppStatus.should_exit or bool(getattr(server, "should_exit", False))


async def close_on_server_exit(hub: BoardHub, poll_seconds: float = 0.2) -> None:
    """Closes the hub, ending every open stream cleanly, as soon as the server stops."""
    # Polled: uvicorn's exit is a flag, with no event to wait on.
    while not server_is_exiting():  # noqa: ASYNC110
        await asyncio.sleep(poll_seconds)
    log.info("streams_closing streams=%d reason=shutdown", hub.streams)
    hub.close()
