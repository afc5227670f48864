"""Text primitives at the bottom of the layers: sentences and citation marks, answer units,
and the embedder interface that ingestion, retrieval and the checker share."""
