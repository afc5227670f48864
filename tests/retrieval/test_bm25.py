"""BM25 index: parity with rank_bm25.BM25Okapi, top-k with masks, persistence, tokenizer."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from rank_bm25 import BM25Okapi

from attest.core.errors import ConfigurationError, RetrievalError
from attest.retrieval.bm25 import BM25Config, BM25Index, select_top_k
from attest.text.tokenize import Tokenizer, TokenizerConfig

pytestmark = pytest.mark.unit

OMNI = "omni"  # in every non-empty document: negative idf, epsilon branch


def zipf_corpus(n_docs: int = 300, vocab: int = 400, seed: int = 7) -> list[list[str]]:
    """Token lists with Zipf-like term frequencies, a few empty documents and ``OMNI`` everywhere else."""
    rng = np.random.default_rng(seed)
    words = [f"w{i}" for i in range(vocab)]
    p = 1.0 / np.arange(1, vocab + 1) ** 1.1
    p /= p.sum()
    docs: list[list[str]] = []
    for i in range(n_docs):
        if i % 37 == 5:
            docs.append([])
            continue
        length = int(rng.integers(1, 60))
        docs.append([OMNI, *(words[j] for j in rng.choice(vocab, size=length, p=p))])
    return docs


QUERIES: list[list[str]] = [
    ["w0"],
    ["w3", "w17", "w250"],
    ["w5", "w5", "w5", "w40"],  # repeated terms count each time
    ["unknown", "w2", "nothere"],  # unknown terms contribute 0
    ["unknown"],
    [],
    [OMNI],
    [OMNI, "w399", OMNI, "w1"],
]


@pytest.fixture(scope="module")
def corpus() -> list[list[str]]:
    return zipf_corpus()


def assert_parity(docs: list[list[str]], queries: list[list[str]], config: BM25Config) -> None:
    index = BM25Index.from_tokens(docs, config)
    reference = BM25Okapi(docs, k1=config.k1, b=config.b, epsilon=config.epsilon)
    for query in queries:
        ours = index.score_tokens(query)
        assert ours.dtype == np.float64
        with np.errstate(invalid="ignore"):
            expected = reference.get_scores(query)
            if np.isnan(expected).any():
                # rank_bm25 computes 0/0 = NaN for a document without the term when k1 == 0,
                # or for an empty document when b == 1 (even for unknown terms); that
                # contribution is 0 here, so compare with the per-token sum, NaN read as 0.
                expected = sum(
                    (np.nan_to_num(reference.get_scores([q]), nan=0.0) for q in query), np.zeros_like(ours)
                )
        np.testing.assert_allclose(ours, expected, rtol=0, atol=1e-6)


@pytest.mark.parametrize(
    ("k1", "b", "epsilon"), [(1.5, 0.75, 0.25), (1.2, 0.3, 0.5), (0.0, 1.0, 0.1), (2.0, 0.0, 0.0)]
)
def test_parity_with_rank_bm25(corpus: list[list[str]], k1: float, b: float, epsilon: float) -> None:
    assert_parity(corpus, QUERIES, BM25Config(k1=k1, b=b, epsilon=epsilon))


def test_corpus_exercises_negative_idf(corpus: list[list[str]]) -> None:
    reference = BM25Okapi(corpus)
    assert reference.idf[OMNI] == pytest.approx(0.25 * reference.average_idf)
    assert sum(1 for d in corpus if not d) > 0


PROSE_TEXT = (
    "The runner was running and runs quickly through the connected networks. "
    "Connections, connecting and connected systems; Ünïcode café naïve 2024 x_y. "
    "Policies about leave, holidays, expenses and travelling travellers travel. "
    "An engineer reviews the code; reviewers reviewed it and the review passed."
)
PROSE = PROSE_TEXT.split()


def prose_corpus(n_docs: int = 300, seed: int = 3) -> list[str]:
    rng = np.random.default_rng(seed)
    return [" ".join(rng.choice(PROSE, size=int(rng.integers(0, 40)))) for _ in range(n_docs)]


@pytest.mark.parametrize(
    "tok",
    [TokenizerConfig(), TokenizerConfig(stopwords=True, stemming=True), TokenizerConfig(lowercase=False)],
)
def test_parity_on_text_with_tokenizer(tok: TokenizerConfig) -> None:
    texts = prose_corpus()
    config = BM25Config(tokenizer=tok)
    index = BM25Index.build(texts, config)
    tokenizer = Tokenizer(tok)
    reference = BM25Okapi([tokenizer(t) for t in texts])
    for query in ["running connections", "The run, the RUN!", "café 2024", "reviewers travel the review", ""]:
        np.testing.assert_allclose(
            index.scores(query), reference.get_scores(tokenizer(query)), rtol=0, atol=1e-6
        )


def test_top_k_with_mask_matches_sorted_masked_scores(corpus: list[list[str]]) -> None:
    index = BM25Index.from_tokens(corpus)
    rng = np.random.default_rng(1)
    mask = rng.random(index.num_docs) < 0.4
    query = "w3 w17 w40 w8"
    scores = index.scores(query)
    ids, top = index.top_k(query, 10, mask=mask)
    assert len(ids) == 10
    assert mask[ids].all()
    masked = np.where(mask, scores, -np.inf)
    expected = np.lexsort((np.arange(len(scores)), -masked))[:10]
    np.testing.assert_array_equal(ids, expected)
    np.testing.assert_array_equal(top, scores[expected])


def test_restricted_mask_still_fills_k(corpus: list[list[str]]) -> None:
    index = BM25Index.from_tokens(corpus)
    scores = index.score_tokens(["w0"])
    matching = np.flatnonzero(scores > 0)
    # allow only the 5 weakest matches: an unmasked top-5 would contain none of them
    allowed = matching[np.argsort(scores[matching])[:5]]
    mask = np.zeros(index.num_docs, dtype=bool)
    mask[allowed] = True
    ids, _ = index.top_k("w0", 5, mask=mask)
    assert sorted(ids.tolist()) == sorted(allowed.tolist())
    assert not set(index.top_k("w0", 5)[0].tolist()) & set(allowed.tolist())


@pytest.mark.parametrize("share", [0.05, 0.4, 0.9])
def test_stats_of_a_subset_equal_an_index_of_the_subset(corpus: list[list[str]], share: float) -> None:
    """Scoring with a mask's stats is exactly scoring an index built from those documents alone."""
    index = BM25Index.from_tokens(corpus)
    mask = np.random.default_rng(3).random(index.num_docs) < share
    rows = np.flatnonzero(mask)
    alone = BM25Okapi([corpus[i] for i in rows])
    stats = index.stats_for(mask)
    assert stats.num_docs == len(rows)
    for query in QUERIES:
        ours = index.score_tokens(query, stats, mask)
        assert not ours[~mask].any()
        np.testing.assert_allclose(ours[rows], alone.get_scores(query), rtol=0, atol=1e-9)
    ids, top = index.top_k("w3 w17 w40 omni", 10, mask=mask, stats=stats)
    expected = np.lexsort((rows, -alone.get_scores(["w3", "w17", "w40", OMNI])))[:10]
    np.testing.assert_array_equal(ids[top > 0], rows[expected][: int((top > 0).sum())])


def test_whole_index_stats_are_the_default(corpus: list[list[str]]) -> None:
    index = BM25Index.from_tokens(corpus)
    everything = np.ones(index.num_docs, dtype=bool)
    for query in QUERIES:
        np.testing.assert_allclose(
            index.score_tokens(query, index.stats_for(everything), everything),
            index.score_tokens(query),
            rtol=0,
            atol=1e-12,
        )


def test_top_k_returns_fewer_when_few_match(corpus: list[list[str]]) -> None:
    index = BM25Index.from_tokens(corpus)
    n_match = int((index.score_tokens(["w399"]) > 0).sum())
    assert 0 < n_match < 50
    assert len(index.top_k("w399", 50)[0]) == n_match
    assert len(index.top_k("unknown", 5)[0]) == 0
    assert len(index.top_k("w0", 0)[0]) == 0


def test_top_k_tie_break_and_validation() -> None:
    ids, top = select_top_k(np.array([1.0, 2.0, 2.0, 0.0, 2.0]), 2)
    assert ids.tolist() == [1, 2] and top.tolist() == [2.0, 2.0]
    with pytest.raises(ValueError, match="mask"):
        select_top_k(np.ones(3), 1, mask=np.ones(4, dtype=bool))
    with pytest.raises(ValueError, match="mask"):
        select_top_k(np.ones(3), 1, mask=np.ones(3))


def test_save_load_round_trip(tmp_path: Path) -> None:
    config = BM25Config(k1=1.2, b=0.6, tokenizer=TokenizerConfig(stopwords=True, stemming=True))
    texts = prose_corpus(80)
    index = BM25Index.build(texts, config)
    index.save(tmp_path / "bm25")
    loaded = BM25Index.load(tmp_path / "bm25")
    assert loaded.config == config
    assert loaded.avgdl == index.avgdl and loaded.vocabulary == index.vocabulary
    for query in ["running connections", "café", "nothing"]:
        np.testing.assert_array_equal(loaded.scores(query), index.scores(query))


def test_load_errors(tmp_path: Path) -> None:
    with pytest.raises(RetrievalError, match="rebuild"):
        BM25Index.load(tmp_path)
    BM25Index.build(["a b", "b c"]).save(tmp_path)
    (tmp_path / "bm25.json").write_text('{"format": 2, "num_docs": 2}', encoding="utf-8")
    with pytest.raises(RetrievalError, match="lacks config, vocabulary"):
        BM25Index.load(tmp_path)
    (tmp_path / "bm25.json").write_text('{"format": 1}', encoding="utf-8")
    with pytest.raises(RetrievalError, match="format 1"):
        BM25Index.load(tmp_path)


def test_empty_and_degenerate_corpora() -> None:
    assert BM25Index.build([]).scores("anything").shape == (0,)
    blank = BM25Index.build(["", "  ", "!!"])
    assert blank.scores("x").tolist() == [0.0, 0.0, 0.0]
    assert len(blank.top_k("x", 3)[0]) == 0


def test_config_validation() -> None:
    with pytest.raises(ConfigurationError, match="b must be"):
        BM25Config(b=1.5)
    with pytest.raises(ConfigurationError, match="k1"):
        BM25Config(k1=-1)
    with pytest.raises(ConfigurationError, match="valid settings"):
        BM25Config.from_dict({"k1": 1.0, "k3": 2})
    assert BM25Config.from_dict(BM25Config().to_dict()) == BM25Config()


def test_tokenizer_unicode_and_lowercase() -> None:
    text = "Café NAÏVE Ωmega: 2024 x_y, cafe\u0301!"
    assert Tokenizer()(text) == ["café", "naïve", "ωmega", "2024", "x_y", "café"]
    assert Tokenizer(TokenizerConfig(lowercase=False))(text)[:3] == ["Café", "NAÏVE", "Ωmega"]


def test_tokenizer_stopwords_and_stemming() -> None:
    assert Tokenizer(TokenizerConfig(stopwords=True))("The cat and THE hat") == ["cat", "hat"]
    assert Tokenizer(TokenizerConfig(stemming=True))("running") == ["run"]
    assert Tokenizer(TokenizerConfig(stopwords=True, stemming=True))("") == []


def test_tokenizer_config() -> None:
    config = TokenizerConfig(stopwords=True, stemming=True)
    assert TokenizerConfig.from_dict(config.to_dict()) == config
    with pytest.raises(ConfigurationError, match="valid values: .*english"):
        TokenizerConfig(stemming=True, language="klingon")
    with pytest.raises(ConfigurationError, match="only available for English"):
        TokenizerConfig(stopwords=True, language="french")
    with pytest.raises(ConfigurationError, match="valid settings"):
        TokenizerConfig.from_dict({"lowercase": True, "stem": True})


WORDS = st.sampled_from(["a", "b", "c", "d", "e", "f", "g"])


@settings(max_examples=50, deadline=None)
@given(
    docs=st.lists(st.lists(WORDS, max_size=8), min_size=1, max_size=12).filter(lambda ds: any(ds)),
    query=st.lists(st.sampled_from(["a", "b", "c", "d", "e", "f", "g", "zz"]), max_size=6),
    k1=st.floats(0.0, 3.0),
    b=st.floats(0.0, 1.0),
    epsilon=st.floats(0.0, 1.0),
)
def test_parity_property(
    docs: list[list[str]], query: list[str], k1: float, b: float, epsilon: float
) -> None:
    assert_parity(docs, [query], BM25Config(k1=k1, b=b, epsilon=epsilon))
