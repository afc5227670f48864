"""Prometheus metrics, one registry per app: requests and latency by route, LLM tokens,
verdicts, index sizes. Each API worker process keeps its own counters (scrape each worker,
or run one per replica)."""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from attest.core.models import IndexVersion, KnowledgeBase, Outcome

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60)


class _IndexSizes(Collector):
    """Chunks and documents in each knowledge base's active index version, read at scrape time."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def collect(self) -> Iterator[GaugeMetricFamily]:
        chunks = GaugeMetricFamily("attest_index_chunks", "Chunks in the active index version", labels=["kb"])
        docs = GaugeMetricFamily(
            "attest_index_documents", "Documents in the active index version", labels=["kb"]
        )
        with Session(self.engine) as session:
            rows = session.execute(
                select(KnowledgeBase.name, IndexVersion.chunk_count, IndexVersion.document_count).join(
                    IndexVersion, IndexVersion.id == KnowledgeBase.active_index_id
                )
            ).all()
        for name, chunk_count, doc_count in rows:
            chunks.add_metric([name], chunk_count)
            docs.add_metric([name], doc_count)
        yield chunks
        yield docs


class Metrics:
    def __init__(self, engine: Engine) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "attest_http_requests", "HTTP requests", ["method", "route", "status"], registry=self.registry
        )
        self.latency = Histogram(
            "attest_http_request_duration_seconds",
            "HTTP request latency",
            ["method", "route"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.llm_tokens = Counter(
            "attest_llm_tokens", "Tokens of generated answers", ["backend"], registry=self.registry
        )
        self.answers = Counter(
            "attest_answers",
            f"Answers by outcome ({', '.join(Outcome)})",
            ["outcome"],
            registry=self.registry,
        )
        self.registry.register(_IndexSizes(engine))
