"""Prometheus metrics of one app: request latency, scores by band, the model versions in use and
the challenger's failures (which change no answer, so nothing else shows them).

Each app owns its registry (tests build many apps in one process).  With ``--workers N`` every
worker process reports its own series; Prometheus sums them per instance.
"""

from __future__ import annotations

import time

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)

LATENCY_BUCKETS = (
    0.002,
    0.005,
    0.01,
    0.02,
    0.035,
    0.05,
    0.075,
    0.1,
    0.25,
    0.5,
    1.0,
    2.0,
    5.0,
    10.0,
)


class ServiceMetrics:
    content_type = CONTENT_TYPE_LATEST

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.latency = Histogram(
            "triage_request_duration_seconds",
            "Time to answer a request, by route.",
            ["method", "route", "status"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.scores = Counter(
            "triage_scores_total",
            "Cases scored, by escalation band.",
            ["band"],
            registry=self.registry,
        )
        self.challenger_failures = Counter(
            "triage_challenger_failures_total",
            "Challenger failures: models left out at a load, batches not scored in shadow.",
            ["stage"],
            registry=self.registry,
        )
        for stage in ("load", "score"):  # both series from the start, so a rate sees the first
            self.challenger_failures.labels(stage=stage)
        self.models = Gauge(
            "triage_model_info",
            "The champion model versions in use (value 1).",
            ["model", "version"],
            registry=self.registry,
        )

    def set_models(self, versions: dict[str, str]) -> None:
        self.models.clear()
        for model, version in versions.items():
            self.models.labels(model=model, version=version).set(1)

    def count_scores(self, bands: list[str]) -> None:
        for band in bands:
            self.scores.labels(band=band).inc()

    def count_challenger_failures(self, stage: str, failures: int = 1) -> None:
        self.challenger_failures.labels(stage=stage).inc(failures)

    def render(self) -> bytes:
        return generate_latest(self.registry)


class LatencyMiddleware:
    """Pure ASGI middleware timing each HTTP request under its route template (not the raw path)."""

    def __init__(self, app, metrics: ServiceMetrics):
        self.app, self.metrics = app, metrics

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        start, status = time.perf_counter(), {"code": 500}

        async def send_and_note(message):
            if message["type"] == "http.response.start":
                status["code"] = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_and_note)
        finally:
            route = getattr(scope.get("route"), "path", "unmatched")
            self.metrics.latency.labels(scope["method"], route, str(status["code"])).observe(
                time.perf_counter() - start
            )
