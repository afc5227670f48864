"""The ``milvus`` index backend: one Milvus collection per index version, an alias per knowledge base.

``ATTEST_MILVUS_URI`` names the Milvus: a path ending in ``.db`` is an embedded milvus-lite
database (pure Python, in this process; one process at a time), ``http://host:19530`` a
Milvus server or cluster, or ``milvus-lite server`` shared by several processes. The client
API is the same for all of them.

The mapping:

* collection ``attest_kb{kb}_v{n}`` holds version ``n``: the chunk id (primary key), the
  dense vector, the BM25 input, the document id, the ACL groups with ``public`` saying
  explicitly that a document has none, the tags, the entity texts and the chunk record as
  JSON. Alias ``attest_kb{kb}`` points at the active version; activation swaps it just before
  the database records the new version. Attest's processes search the version the database
  names (:class:`MilvusSearcher`); a query that began on the old collection finishes there,
  since it is dropped only when two newer versions exist.
* BM25 runs in Milvus (a BM25 function into a sparse field), over the *terms* Attest's own
  tokenizer makes (``ATTEST_BM25_STEMMING``, ``ATTEST_BM25_STOPWORDS``), joined by spaces.
  Milvus's ``standard`` analyzer only splits them again, so the analysis is pinned: the same
  on milvus-lite and on a server, whatever analyzers they ship.
* The caller's filters become a filter expression applied inside both searches, before the
  top-k cut (:mod:`attest.retrieval.milvus_search`). Values are quoted and escaped, never pasted.
* Fusion, the entity boost and the candidate depth are the local backend's
  (:func:`attest.retrieval.hybrid.fuse`), applied to the two candidate lists Milvus returns.

Known differences from the local backend (measured in docs/benchmarks.md):

* BM25 statistics (idf, average length) are Milvus's own: per segment on milvus-lite, and
  over every chunk of the version, so documents a user may not read do count in their idf
  (the local backend computes them over what the user may read). The ranking can differ
  slightly; what is returned never includes a forbidden chunk.
* Milvus's idf is ``log(1 + (N - n + 0.5) / (n + 0.5))``; the local backend's is rank_bm25's
  Okapi idf with a floor ``epsilon``. milvus-lite returns BM25 scores negated (their
  magnitude is used here).
* milvus-lite evaluates array filters (the ACL) by a scan in Python, so a restricted query
  costs time in proportion to the version's size (benchmarks.md); a Milvus server
  evaluates them natively.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit, urlunsplit

import numpy as np
from pymilvus import DataType, Function, FunctionType, MilvusClient, MilvusException

from attest.core.enums import IndexBackendName
from attest.core.errors import IngestError, NotFound, RetrievalError
from attest.core.models import IndexVersion
from attest.core.settings import Settings
from attest.retrieval.backend import MILVUS_LOCATION, VersionRow
from attest.retrieval.hybrid import QueryEntities, bm25_config, retrieval_config
from attest.retrieval.index_store import bm25_text
from attest.retrieval.milvus_search import MilvusSearcher
from attest.retrieval.records import ChunkRecord
from attest.text.embedder import Embedder
from attest.text.tokenize import Tokenizer

PREFIX = "attest_kb"  # every collection and alias Attest makes starts with it
LOCATION = MILVUS_LOCATION  # IndexVersion.path of a Milvus version: LOCATION + collection name
FORMAT = "attest-index-v1"  # the collection description; another one is rebuilt, not read
INSERT_BATCH = 512
MAX_TEXT = 65_535  # Milvus's largest VARCHAR
MAX_LIST = 1024  # most ACL groups, tags or entity texts a chunk's row holds
HNSW = {"M": 16, "efConstruction": 200}  # versions of ATTEST_DENSE_ANN_THRESHOLD chunks or more

log = logging.getLogger(__name__)
T = TypeVar("T")
Failure = type[RetrievalError] | type[IngestError]  # what a Milvus failure is reported as (both 503)


def collection_name(kb_id: int, number: int) -> str:
    return f"{PREFIX}{kb_id}_v{number}"


def alias_name(kb_id: int) -> str:
    return f"{PREFIX}{kb_id}"


# --- the connection -------------------------------------------------------------------------


_clients: dict[tuple[str, str], MilvusClient] = {}
_clients_lock = threading.Lock()


def milvus_uri(settings: Settings) -> str:
    """The URI ``ATTEST_MILVUS_URI`` names; empty: milvus.db in the data directory (embedded)."""
    return settings.milvus_uri or str((settings.data_dir / "milvus.db").resolve())


def shown_uri(uri: str) -> str:
    """``uri`` without a password, for messages."""
    parts = urlsplit(uri)
    if parts.password is None:
        return uri
    host = parts.hostname or ""
    netloc = f"{parts.username}:***@{host}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit(parts._replace(netloc=netloc))


@contextmanager
def unavailable_as_error(uri: str, error: Failure = RetrievalError) -> Iterator[None]:
    """Report a Milvus that cannot be reached or refuses a call as ``error`` (a 503), naming it."""
    try:
        yield
    except MilvusException as exc:
        raise error(
            f"The Milvus index at {shown_uri(uri)} failed: {exc.message or exc}. Check that it is "
            "running and that ATTEST_MILVUS_URI and ATTEST_MILVUS_TOKEN are right."
        ) from exc
    except (ConnectionError, TimeoutError, OSError) as exc:
        raise error(
            f"The Milvus index at {shown_uri(uri)} is unavailable ({exc}). Check that it is "
            "running and that ATTEST_MILVUS_URI is right."
        ) from exc


def connect(settings: Settings) -> MilvusClient:
    """One client per URI and token in this process (pymilvus's client is thread-safe)."""
    uri, token = milvus_uri(settings), settings.milvus_token.get_secret_value()
    with _clients_lock:
        client = _clients.get((uri, token))
        if client is None:
            # pymilvus and milvus-lite log each failure with its traceback before raising it;
            # the error raised here says it once, naming the URI.
            logging.getLogger("pymilvus").setLevel(logging.CRITICAL)
            logging.getLogger("milvus_lite").setLevel(logging.CRITICAL)
            if uri.endswith(".db"):
                client = _open_embedded(uri, token, settings)
            else:
                with unavailable_as_error(uri):
                    client = MilvusClient(uri=uri, token=token, timeout=settings.milvus_timeout)
            _clients[(uri, token)] = client
        return client


def _open_embedded(uri: str, token: str, settings: Settings) -> MilvusClient:
    """milvus-lite in this process, on the database directory ``uri``. It takes a lock on the
    directory, so a second process cannot open it: say what to do instead."""
    Path(uri).parent.mkdir(parents=True, exist_ok=True)
    try:
        return MilvusClient(uri=uri, token=token, timeout=settings.milvus_timeout)
    except MilvusException as exc:
        raise RetrievalError(
            f"The embedded Milvus database {uri} could not be opened ({exc.message or exc}). Only "
            "one process can open it at a time: run `milvus-lite server --data-dir DIR --port 19530` "
            "and point every process at it with ATTEST_MILVUS_URI=http://127.0.0.1:19530."
        ) from exc


# --- the backend ----------------------------------------------------------------------------


class MilvusBackend:
    """Index versions as Milvus collections (see the module's docstring)."""

    name = IndexBackendName.MILVUS

    def __init__(self, settings: Settings, embedder: Embedder | None = None) -> None:
        """``embedder`` embeds queries; only :meth:`open` needs it. Milvus is reached on first use."""
        self.settings = settings
        self.embedder = embedder
        self.uri = milvus_uri(settings)
        self.tokenizer = Tokenizer(bm25_config(settings).tokenizer)
        self._client: MilvusClient | None = None

    @property
    def client(self) -> MilvusClient:
        if self._client is None:
            self._client = connect(self.settings)
        return self._client

    def _call(self, call: Callable[[], T], error: Failure = RetrievalError) -> T:
        with unavailable_as_error(self.uri, error):
            return call()

    def terms(self, text: str) -> str:
        """What BM25 reads of ``text``: Attest's index terms, joined by spaces."""
        return " ".join(self.tokenizer(text))

    def location(self, kb_id: int, number: int) -> str:
        return LOCATION + collection_name(kb_id, number)

    def write(self, version: IndexVersion, rows: Iterable[VersionRow], total: int) -> tuple[int, int]:
        name = _collection(version)
        client = self._call(lambda: self.client, IngestError)
        self._call(lambda: self._create(name, version.embedding_dim, total), IngestError)
        try:
            count, documents = 0, set()
            batch: list[dict[str, Any]] = []
            for record, vector in rows:
                if count >= total:
                    break  # chunks added after counting belong to the next version
                batch.append(self._row(record, vector))
                documents.add(record.document_id)
                count += 1
                if len(batch) == INSERT_BATCH:
                    self._insert(client, name, batch)
                    batch = []
            if batch:
                self._insert(client, name, batch)
            self._call(lambda: client.flush(name), IngestError)
            return count, len(documents)
        except BaseException:
            self._drop(name)
            raise

    def _insert(self, client: MilvusClient, name: str, batch: list[dict[str, Any]]) -> None:
        self._call(lambda: client.insert(name, batch), IngestError)

    def _create(self, name: str, dim: int, total: int) -> None:
        """An empty collection for a version, with its indexes, loaded."""
        client = self.client
        if client.has_collection(name):  # left by a build that died before its row was marked
            client.drop_collection(name)
        schema = MilvusClient.create_schema(auto_id=False, description=FORMAT)
        schema.add_field("chunk_id", DataType.INT64, is_primary=True)
        schema.add_field("vector", DataType.FLOAT_VECTOR, dim=dim)
        # Already Attest's terms: the standard analyzer only splits them on the spaces again.
        schema.add_field(
            "terms",
            DataType.VARCHAR,
            max_length=MAX_TEXT,
            enable_analyzer=True,
            analyzer_params={"tokenizer": "standard", "filter": ["lowercase"]},
        )
        schema.add_field("sparse", DataType.SPARSE_FLOAT_VECTOR)
        schema.add_field("document_id", DataType.INT64)
        schema.add_field("public", DataType.BOOL)  # the document has no ACL: everyone may read it
        for field in ("acl", "tags", "entities"):
            schema.add_field(
                field, DataType.ARRAY, element_type=DataType.VARCHAR, max_capacity=MAX_LIST, max_length=512
            )
        schema.add_field("record", DataType.VARCHAR, max_length=MAX_TEXT)
        schema.add_function(
            Function(
                name="bm25",
                function_type=FunctionType.BM25,
                input_field_names=["terms"],
                output_field_names=["sparse"],
            )
        )
        bm25 = bm25_config(self.settings)
        indexes = client.prepare_index_params()
        indexes.add_index(
            field_name="sparse",
            index_type="SPARSE_INVERTED_INDEX",
            metric_type="BM25",
            params={"bm25_k1": bm25.k1, "bm25_b": bm25.b},
        )
        if total >= self.settings.dense_ann_threshold:
            indexes.add_index(field_name="vector", index_type="HNSW", metric_type="IP", params=HNSW)
        else:
            indexes.add_index(field_name="vector", index_type="FLAT", metric_type="IP")
        client.create_collection(name, schema=schema, index_params=indexes)

    def _row(self, record: ChunkRecord, vector: np.ndarray) -> dict[str, Any]:
        line = record.to_json()
        terms = self.terms(bm25_text(record))
        if len(line.encode()) > MAX_TEXT or len(terms.encode()) > MAX_TEXT:
            raise IngestError(
                f"A chunk of {record.source_uri} is too long for a Milvus text field ({MAX_TEXT} bytes); "
                "lower ATTEST_CHUNK_TOKENS."
            )
        entities = list(dict.fromkeys(e.text.casefold() for e in record.entities))
        for field, values in (("ACL groups", record.acl), ("tags", record.tags)):
            if len(values) > MAX_LIST:
                raise IngestError(f"{record.source_uri} has more than {MAX_LIST} {field}.")
        return {
            "chunk_id": record.chunk_id,
            "vector": vector.tolist(),
            "terms": terms,
            "document_id": record.document_id,
            "public": not record.acl,
            "acl": list(record.acl),
            "tags": list(record.tags),
            "entities": [e[:512] for e in entities[:MAX_LIST]],  # the entity filter sees these
            "record": line,
        }

    def activate(self, kb_id: int, version: IndexVersion) -> None:
        name, alias = _collection(version), alias_name(kb_id)

        def swap() -> None:
            if alias in self.client.list_aliases().get("aliases", []):
                self.client.alter_alias(name, alias)
            else:
                self.client.create_alias(name, alias)

        self._call(swap, IngestError)

    def delete(self, version: IndexVersion) -> None:
        """Drop the version's collection (RetrievalError when Milvus cannot be reached)."""
        if version.path.startswith(LOCATION):
            self._call(lambda: self._drop_now(_collection(version)))

    def _drop(self, name: str) -> None:
        """Drop a collection a failed build was writing, if Milvus lets us: the build's own
        error is the one to report, and the next build's ``discard_unfinished`` tries again."""
        try:
            self._call(lambda: self._drop_now(name))
        except RetrievalError:
            log.warning("could not drop the unfinished collection %s; the next build will", name)

    def _drop_now(self, name: str) -> None:
        if self.client.has_collection(name):
            self.client.drop_collection(name)

    def discard_unfinished(self, kb_id: int, unfinished: Iterable[IndexVersion]) -> None:
        for version in unfinished:
            self.delete(version)

    def drop_kb(self, kb_id: int) -> None:
        def drop() -> None:
            alias = alias_name(kb_id)
            if alias in self.client.list_aliases().get("aliases", []):
                self.client.drop_alias(alias)
            for name in self.client.list_collections():
                if name.startswith(f"{alias}_v"):
                    self.client.drop_collection(name)

        self._call(drop)

    def readable(self, version: IndexVersion) -> bool:
        if not version.path.startswith(LOCATION):
            return False
        name = _collection(version)
        description = self._call(
            lambda: self.client.describe_collection(name) if self.client.has_collection(name) else {}
        )
        return bool(description) and description.get("description") == FORMAT

    def open(self, version: IndexVersion, query_entities: QueryEntities | None = None) -> MilvusSearcher:
        if self.embedder is None:
            raise TypeError("MilvusBackend.open needs the embedder that embeds queries")
        if not version.path.startswith(LOCATION):
            raise NotFound(
                f"Index version {version.version} was built by the local index backend; re-index the "
                "knowledge base (`attest ingest`, or POST /kbs/NAME/jobs) to build it in Milvus."
            )
        self._call(lambda: self._load(_collection(version)))
        return MilvusSearcher(self, version, self.embedder, retrieval_config(self.settings), query_entities)

    def _load(self, name: str) -> None:
        """Load a collection into memory for searching, unless it already is (a server keeps
        that across restarts of Attest; embedded milvus-lite, per process)."""
        if not self.client.has_collection(name):
            raise NotFound(f"The Milvus collection {name} of this index version is gone; re-index.")
        state = self.client.get_load_state(name).get("state")
        if getattr(state, "name", str(state)) != "Loaded":
            self.client.load_collection(name)


def _collection(version: IndexVersion) -> str:
    return version.path.removeprefix(LOCATION)
