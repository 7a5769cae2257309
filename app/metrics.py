"""Prometheus metrics of one process: completions by outcome, request latency, streams and
the listener. Each process exposes its own; a scraper adds them up across replicas."""

from __future__ import annotations

import time
from collections.abc import Iterator

from litestar.types import ASGIApp, Message, Receive, Scope, Send
from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

from notify.hub import BoardHub
from notify.listener import BoardListener

STREAM_PATH = "/api/leaderboard/stream"


class LiveCollector(Collector):
    """Reads the hub's and the listener's own counts at scrape time."""

    def __init__(self, hub: BoardHub, listener: BoardListener) -> None:
        self._hub = hub
        self._listener = listener

    def collect(self) -> Iterator[GaugeMetricFamily | CounterMetricFamily]:
        yield GaugeMetricFamily(
            "scoreboard_open_streams", "Open live streams", value=self._hub.streams
        )
        yield GaugeMetricFamily(
            "scoreboard_listener_connected",
            "1 while the LISTEN connection is up",
            value=int(self._listener.connected),
        )
        yield CounterMetricFamily(
            "scoreboard_notifications",
            "Board notifications received",
            value=self._listener.notifications,
        )
        yield CounterMetricFamily(
            "scoreboard_listener_reconnects",
            "Times the LISTEN connection was re-established",
            value=self._listener.reconnects,
        )


class Metrics:
    """The registry of one app, and the counters the routes feed."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.completions = Counter(
            "scoreboard_completions",
            "Completions answered, by outcome (recorded, replayed, or the refusal's error code)",
            ["outcome"],
            registry=self.registry,
        )
        self.request_seconds = Histogram(
            "scoreboard_request_seconds",
            "Time to answer a request (streams excluded)",
            ["method", "route", "status"],
            registry=self.registry,
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5),
        )

    def watch(self, hub: BoardHub, listener: BoardListener) -> None:
        """Adds the live counts of a hub and its listener."""
        self.registry.register(LiveCollector(hub, listener))

    def middleware(self, app: ASGIApp) -> ASGIApp:
        """Times every HTTP request but the streams, labelled by route template."""

        async def timed(scope: Scope, receive: Receive, send: Send) -> None:
            if scope["type"] != "http" or scope["path"] == STREAM_PATH:
                await app(scope, receive, send)
                return
            started, status = time.perf_counter(), 500

            async def send_status(message: Message) -> None:
                nonlocal status
                if message["type"] == "http.response.start":
                    status = message["status"]
                await send(message)

            try:
                await app(scope, receive, send_status)
            finally:
                route = scope.get("path_template") or "unmatched"
                method = str(scope.get("method", ""))
                self.request_seconds.labels(method, route, str(status)).observe(
                    time.perf_counter() - started
                )

        return timed
