"""Tests for attest.ingest.loaders: every format, every refusal, page spans."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import pytest

from attest.core.errors import LoadError
from attest.ingest.loaders import (
    DOCX,
    MEDIA_TYPES,
    PDF,
    SUPPORTED_EXTENSIONS,
    LoadedDocument,
    PageSpan,
    detect_media_type,
    load_bytes,
    load_file,
    page_at,
)

pytestmark = pytest.mark.unit

MAX = 10 * 1024 * 1024


# --- fixtures built in the tests -------------------------------------------------------


def make_pdf(pages: list[str], title: str | None = None, author: str | None = None) -> bytes:
    """A PDF with one page per string (Helvetica, latin-1 text only)."""
    from fpdf import FPDF

    pdf = FPDF()
    pdf.set_font("Helvetica", size=12)
    if title:
        pdf.set_title(title)
    if author:
        pdf.set_author(author)
    for text in pages:
        pdf.add_page()
        if text:
            pdf.multi_cell(0, 10, text)
    return bytes(pdf.output())


def make_docx(title: str | None = None) -> bytes:
    """A Word document with a heading, a paragraph, a list, a table and a closing line."""
    import docx

    document = docx.Document()
    if title:
        document.core_properties.title = title
    document.core_properties.author = "Ada Lovelace"
    document.add_heading("Quarterly Report", level=1)
    document.add_paragraph("Revenue grew in every region.")
    document.add_heading("Details", level=2)
    document.add_paragraph("First point", style="List Bullet")
    document.add_paragraph("Second point", style="List Bullet")
    table = document.add_table(rows=2, cols=2)
    table.cell(0, 0).text = "Region"
    table.cell(0, 1).text = "Sales"
    table.cell(1, 0).text = "North"
    table.cell(1, 1).text = "42"
    document.add_paragraph("After the table.")
    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue()


HTML_PAGE = b"""<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>Holiday  Policy</title>
<style>body { color: red; }</style><script>var secret = "SCRIPT_TEXT";</script></head>
<body>
<header><a href="/">SITE_HEADER</a></header>
<nav><a href="/a">NAV_LINK</a></nav>
<div role="navigation">ROLE_NAV</div>
<main>
  <h1>Holidays</h1>
  <p>Employees   get
     25 days of <b>paid</b> leave.</p>
  <h2>Carry over</h2>
  <ul><li>Up to 5 days</li><li>Until <em>March</em></li></ul>
  <table><tr><th>Grade</th><th>Days</th></tr><tr><td>A</td><td>25</td></tr></table>
  <!-- COMMENT_TEXT -->
  <noscript>NOSCRIPT_TEXT</noscript>
  <form><label>FORM_TEXT</label></form><template>TEMPLATE_TEXT</template>
  <svg><text>SVG_TEXT</text></svg><iframe>IFRAME_TEXT</iframe>
</main>
<aside>ASIDE_TEXT</aside>
<footer>FOOTER_TEXT</footer>
</body></html>
"""


def load(data: bytes, filename: str, max_bytes: int = MAX) -> LoadedDocument:
    """load_bytes with a generous default limit."""
    return load_bytes(data, filename=filename, max_bytes=max_bytes)


def error_of(data: bytes, filename: str, max_bytes: int = MAX) -> str:
    """The message of the LoadError that loading these bytes raises."""
    with pytest.raises(LoadError) as info:
        load(data, filename, max_bytes)
    return str(info.value)


# --- plain text ------------------------------------------------------------------------


def test_txt_strips_bom_and_normalises_newlines() -> None:
    doc = load(b"\xef\xbb\xbfline one\r\nline two\rline three\n", "notes.txt")
    assert doc.text == "line one\nline two\nline three\n"
    assert doc.title == "notes"
    assert doc.media_type == "text/plain"
    assert doc.pages == ()


def test_txt_keeps_non_ascii_utf8() -> None:
    doc = load("Café – naïve ☕".encode(), "menu.txt")
    assert doc.text == "Café – naïve ☕"


def test_non_utf8_txt_names_the_byte_offset() -> None:
    message = error_of(b"abc\xe9def", "latin.txt")
    assert message.startswith("latin.txt: ")
    assert "not UTF-8" in message
    assert "offset 3" in message


def test_non_utf8_offset_counts_the_bom() -> None:
    assert "offset 5" in error_of(b"\xef\xbb\xbfab\xffc", "bom.txt")


def test_binary_content_named_txt_is_refused() -> None:
    png = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256))
    message = error_of(png, "photo.txt")
    assert message.startswith("photo.txt: ")
    assert "binary content, not text" in message


def test_utf16_text_is_refused_with_advice() -> None:
    message = error_of("hello".encode("utf-16"), "wide.txt")
    assert "UTF-16" in message and "UTF-8" in message


# --- Markdown --------------------------------------------------------------------------


def test_markdown_front_matter_becomes_metadata_and_is_removed() -> None:
    source = (
        "---\n"
        'title: "Onboarding Guide"\n'
        "author: HR Team\n"
        "tags: [people, process]\n"
        "owners:\n"
        "  - alice\n"
        "  - bob\n"
        "---\n"
        "\n"
        "# Welcome\n"
        "\n"
        "Read this first.\n"
    )
    doc = load(source.encode(), "guide.md")
    assert doc.text == "# Welcome\n\nRead this first.\n"
    assert doc.title == "Onboarding Guide"
    assert doc.media_type == "text/markdown"
    assert doc.metadata["author"] == "HR Team"
    assert doc.metadata["tags"] == ["people", "process"]
    assert doc.metadata["owners"] == ["alice", "bob"]


def test_markdown_title_from_first_heading_outside_code_fences() -> None:
    source = "Intro text.\n\n```bash\n# not a title\n```\n\n## Sub\n\n# Real Title #\n"
    doc = load(source.encode(), "readme.markdown")
    assert doc.title == "Real Title"
    assert "```bash\n# not a title\n```" in doc.text
    assert doc.metadata == {}


def test_markdown_setext_heading_is_a_title() -> None:
    assert load(b"Big Title\n=========\n\nBody.\n", "x.md").title == "Big Title"


def test_markdown_without_heading_uses_stem_and_keeps_unclosed_dashes() -> None:
    doc = load(b"---\nnot: closed\n\nplain body\n", "plain-notes.md")
    assert doc.title == "plain-notes"
    assert doc.text.startswith("---\nnot: closed")
    assert doc.metadata == {}


def test_markdown_opening_rule_with_prose_is_not_front_matter() -> None:
    source = b"---\nThis opens with a rule.\n---\n\nMore text.\n"
    doc = load(source, "rule.md")
    assert doc.text == source.decode()
    assert doc.metadata == {}


def test_markdown_empty_front_matter_is_removed() -> None:
    doc = load(b"---\n---\nBody only.\n", "bare.md")
    assert doc.text == "Body only.\n"
    assert doc.metadata == {}


def test_markdown_with_only_front_matter_has_no_text() -> None:
    assert "contains no text" in error_of(b"---\ntitle: Empty\n---\n\n  \n", "empty.md")


def test_markdown_table_rows_are_written_with_their_column_names_outside_code() -> None:
    text = (
        "| Location | Maximum nightly rate |\n|---|:--:|\n| Domestic | $180 |\n| Abroad | |\n\n"
        "```\nls | wc\n--- | ---\nls | grep\n```\n\n"
        "Name | Role\n--- | ---\nMaren | CEO\nAfter.\n\n"
        "A heading | with a bar\n---\nNot a row | either\n"
    )
    assert load(text.encode(), "rates.md").text == (
        "| Location | Maximum nightly rate |\n|---|:--:|\n"
        "| Location: Domestic | Maximum nightly rate: $180 |\n| Location: Abroad |  |\n\n"
        "```\nls | wc\n--- | ---\nls | grep\n```\n\n"
        "Name | Role\n--- | ---\nName: Maren | Role: CEO\nAfter.\n\n"
        "A heading | with a bar\n---\nNot a row | either\n"  # a setext heading, not a table
    )


# --- HTML ------------------------------------------------------------------------------


def test_html_keeps_content_structure_and_drops_boilerplate() -> None:
    doc = load(HTML_PAGE, "policy.html")
    assert doc.media_type == "text/html"
    assert doc.title == "Holiday Policy"
    assert doc.text == (
        "# Holidays\n\n"
        "Employees get 25 days of paid leave.\n\n"
        "## Carry over\n\n"
        "- Up to 5 days\n\n"
        "- Until March\n\n"
        "Grade | Days\n\n"
        "Grade: A | Days: 25"  # a body row carries its column names
    )
    for dropped in ("SCRIPT_TEXT", "SITE_HEADER", "NAV_LINK", "ROLE_NAV", "COMMENT_TEXT",
                    "NOSCRIPT_TEXT", "ASIDE_TEXT", "FOOTER_TEXT", "color: red", "FORM_TEXT",
                    "TEMPLATE_TEXT", "SVG_TEXT", "IFRAME_TEXT"):  # fmt: skip
        assert dropped not in doc.text


def test_html_without_main_uses_body_and_h1_title() -> None:
    page = b"<html><body><nav>menu</nav><h1>Only  Heading</h1><div>Some text</div></body></html>"
    doc = load(page, "page.htm")
    assert doc.title == "Only Heading"
    assert doc.text == "# Only Heading\n\nSome text"


def test_html_prefers_single_article_and_keeps_its_header() -> None:
    page = (
        b"<html><body><header>BANNER</header><p>OUTSIDE</p>"
        b"<article><header><h1>Post</h1></header><p>Inside.</p></article></body></html>"
    )
    doc = load(page, "post.html")
    assert doc.text == "# Post\n\nInside."


def test_html_decodes_the_declared_charset() -> None:
    page = '<html><head><meta charset="windows-1252"></head><body><p>Caf\xe9</p></body></html>'
    doc = load(page.encode("cp1252"), "old.html")
    assert doc.text == "Café"


def test_html_keeps_preformatted_text() -> None:
    page = b"<html><body><p>Run:</p><pre>make  build\n  make test</pre></body></html>"
    assert load(page, "code.html").text == "Run:\n\nmake  build\n  make test"


def test_html_list_item_without_text_does_not_mark_the_next_block() -> None:
    page = b"<html><body><ul><li><img src='x.png'></li></ul><p>Next paragraph</p></body></html>"
    assert load(page, "img.html").text == "Next paragraph"


def test_html_nested_lists_give_one_line_per_item() -> None:
    page = b"<html><body><ul><li>Parent<ul><li>Child</li></ul></li></ul></body></html>"
    assert load(page, "nested.html").text == "- Parent\n\n- Child"


def test_html_with_only_boilerplate_has_no_text() -> None:
    page = b"<html><body><nav>menu</nav><script>x()</script></body></html>"
    assert "contains no text" in error_of(page, "chrome.html")


# --- PDF -------------------------------------------------------------------------------


def test_pdf_text_title_metadata_and_page_spans() -> None:
    pages = ["Alpha page one.", "Beta page two.", "Gamma page three."]
    doc = load(make_pdf(pages, title="Annual Review", author="Grace Hopper"), "review.pdf")
    assert doc.media_type == PDF
    assert doc.title == "Annual Review"
    assert doc.metadata["page_count"] == 3
    assert doc.metadata["author"] == "Grace Hopper"
    assert [span.page for span in doc.pages] == [1, 2, 3]
    for span, expected in zip(doc.pages, pages, strict=True):
        assert doc.text[span.start : span.end] == expected
    assert doc.text == "\n\n".join(pages)


def test_page_at_maps_offsets_to_pdf_pages() -> None:
    doc = load(make_pdf(["Alpha page one.", "Beta page two.", "Gamma page three."]), "r.pdf")
    assert page_at(doc.pages, doc.text.index("Alpha")) == 1
    assert page_at(doc.pages, doc.text.index("two")) == 2
    assert page_at(doc.pages, doc.text.index("Gamma")) == 3
    assert page_at(doc.pages, len(doc.text) - 1) == 3
    # The blank lines between pages belong to the page before.
    assert page_at(doc.pages, doc.pages[0].end) == 1
    assert page_at(doc.pages, len(doc.text)) is None
    assert page_at(doc.pages, -1) is None


def test_pdf_running_headers_and_footers_are_left_out_and_a_sentence_across_pages_stays_whole() -> None:
    pages = [
        "Acme - Leave Policy\nLeave is booked.\nManagers reply within 3 days, and\nInternal - Page 1 of 3",
        "Acme - Leave Policy\nthey may refuse dates in December.\nInternal - Page 2 of 3",
        "Acme - Leave Policy\nUnused days are lost.\nInternal - Page 3 of 3",
    ]
    doc = load(make_pdf(pages), "leave.pdf")
    assert doc.title == "Acme - Leave Policy"  # the first line is still the best guess
    assert doc.text == (
        "Leave is booked.\nManagers reply within 3 days, and\n"
        "they may refuse dates in December.\n\nUnused days are lost."
    )
    assert page_at(doc.pages, doc.text.index("they may")) == 2
    # A line on only one page of two is the document's, not a running one.
    alone = load(
        make_pdf(["Acme - Leave Policy\nLeave is booked in Helm.", "Unused days are lost."]), "a.pdf"
    )
    assert alone.text.startswith("Acme - Leave Policy\n")
    # Only the page's number and the page count are ignored: a total at each page's foot stays.
    totals = load(make_pdf(["Claims.\nTotal: 120", "More claims.\nTotal: 75"]), "t.pdf")
    assert totals.text == "Claims.\nTotal: 120\n\nMore claims.\nTotal: 75"


def test_pdf_title_falls_back_to_first_line() -> None:
    doc = load(make_pdf(["Safety Manual\nWear a helmet."]), "manual.pdf")
    assert doc.title == "Safety Manual"


def test_pdf_empty_page_gets_empty_span_and_is_never_found() -> None:
    doc = load(make_pdf(["First.", "", "Third."]), "gap.pdf")
    assert doc.text == "First.\n\nThird."
    assert doc.pages[1].start == doc.pages[1].end == doc.text.index("Third.")
    assert [page_at(doc.pages, i) for i in range(len(doc.text))].count(2) == 0
    assert page_at(doc.pages, doc.text.index("Third.")) == 3


def test_page_at_without_pages_is_none() -> None:
    assert page_at((), 0) is None
    assert page_at([PageSpan(1, 0, 5), PageSpan(2, 7, 9)], 8) == 2


@pytest.mark.parametrize("cut", [0.5, 0.9])
def test_truncated_pdf_is_corrupt(cut: float) -> None:
    data = make_pdf(["Some text."])
    message = error_of(data[: int(len(data) * cut)], "report.pdf")
    assert message.startswith("report.pdf: ")
    assert "corrupt" in message


def test_random_bytes_named_pdf_is_not_a_pdf() -> None:
    message = error_of(bytes(range(1, 256)) * 4, "x.pdf")
    assert message.startswith("x.pdf: named .pdf but the content is not a PDF")


def test_pdf_header_with_garbage_is_corrupt() -> None:
    assert "corrupt" in error_of(b"%PDF-1.7\n" + bytes(range(256)) * 8, "junk.pdf")


def test_encrypted_pdf_is_refused() -> None:
    from pypdf import PdfReader, PdfWriter

    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(make_pdf(["Secret plans."]))))
    writer.encrypt(user_password="hunter2")
    buffer = io.BytesIO()
    writer.write(buffer)
    message = error_of(buffer.getvalue(), "secret.pdf")
    assert message.startswith("secret.pdf: ")
    assert "encrypted" in message


def test_pdf_encrypted_with_empty_user_password_opens() -> None:
    from pypdf import PdfReader, PdfWriter

    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(make_pdf(["Readable anyway."]))))
    writer.encrypt(user_password="", owner_password="owner")
    buffer = io.BytesIO()
    writer.write(buffer)
    assert load(buffer.getvalue(), "open.pdf").text == "Readable anyway."


def test_pdf_without_text_is_refused() -> None:
    message = error_of(make_pdf(["", ""]), "scan.pdf")
    assert "no extractable text" in message and "OCR" in message


def test_text_mentioning_the_pdf_signature_stays_text() -> None:
    doc = load(b"A PDF file starts with %PDF-1.7 and ends with %%EOF.", "notes.txt")
    assert doc.media_type == "text/plain"


def test_pdf_content_is_detected_whatever_the_name() -> None:
    doc = load(make_pdf(["Detected by content."]), "download")
    assert doc.media_type == PDF
    assert doc.text == "Detected by content."


# --- Word ------------------------------------------------------------------------------


def test_docx_body_order_headings_lists_and_tables() -> None:
    doc = load(make_docx(), "report.docx")
    assert doc.media_type == DOCX
    assert doc.text == (
        "# Quarterly Report\n\n"
        "Revenue grew in every region.\n\n"
        "## Details\n\n"
        "- First point\n\n"
        "- Second point\n\n"
        "Region | Sales\n\n"
        "Region: North | Sales: 42\n\n"
        "After the table."
    )
    assert doc.title == "Quarterly Report"
    assert doc.metadata["author"] == "Ada Lovelace"


def test_docx_core_title_wins_over_heading() -> None:
    assert load(make_docx(title="Official Title"), "r.docx").title == "Official Title"


def test_docx_merged_cells_appear_once() -> None:
    import docx

    document = docx.Document()
    table = document.add_table(rows=1, cols=3)
    merged = table.cell(0, 0).merge(table.cell(0, 1))
    merged.text = "Wide"
    table.cell(0, 2).text = "Narrow"
    buffer = io.BytesIO()
    document.save(buffer)
    assert load(buffer.getvalue(), "merged.docx").text == "Wide | Narrow"


def _zip(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, content in members.items():
            archive.writestr(name, content)
    return buffer.getvalue()


def test_docx_zip_bomb_is_refused_by_compression_ratio() -> None:
    buffer = io.BytesIO()
    with (
        zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive,
        archive.open("word/document.xml", "w") as member,
    ):
        chunk = b"0" * (1024 * 1024)
        for _ in range(30):  # 30 MB of zeros compress to about 30 KB
            member.write(chunk)
    data = buffer.getvalue()
    assert len(data) < 200_000
    message = error_of(data, "bomb.docx", max_bytes=len(data) * 1000)  # total check passes
    assert message.startswith("bomb.docx: ")
    assert "zip bomb" in message and "word/document.xml" in message


def test_docx_zip_bomb_is_refused_by_total_size() -> None:
    # Modestly compressible members, but together far more than 10 x max_bytes.
    data = _zip({"word/document.xml": bytes(range(256)) * 400, "[Content_Types].xml": b"<x/>"})
    message = error_of(data, "big.docx", max_bytes=len(data) + 10)
    assert "zip bomb" in message and "uncompressed size" in message


def test_random_zip_named_docx_is_not_a_word_document() -> None:
    message = error_of(_zip({"readme.txt": b"hello"}), "fake.docx")
    assert message.startswith("fake.docx: ")
    assert "not a Word document" in message


def test_corrupt_zip_named_docx_is_refused() -> None:
    data = make_docx()
    message = error_of(data[: len(data) // 2], "broken.docx")
    assert message.startswith("broken.docx: ")
    assert "corrupt" in message


def test_non_zip_named_docx_is_refused() -> None:
    assert "not a Word document" in error_of(b"just some text", "letter.docx")


def test_docx_with_invalid_xml_is_a_load_error() -> None:
    data = _zip({"[Content_Types].xml": b"not xml", "word/document.xml": b"<<<"})
    assert error_of(data, "garbled.docx").startswith("garbled.docx: ")


# --- common checks ---------------------------------------------------------------------


@pytest.mark.parametrize("filename", ["empty.txt", "empty.pdf", "empty.docx", "empty.html"])
def test_empty_file(filename: str) -> None:
    assert error_of(b"", filename) == f"{filename}: the file is empty"


@pytest.mark.parametrize("filename", ["blank.txt", "blank.md", "blank.html"])
def test_whitespace_only_file_contains_no_text(filename: str) -> None:
    message = error_of(b"  \n\t\r\n  ", filename)
    assert message.startswith(f"{filename}: ") and "contains no text" in message


def test_unsupported_extension_lists_supported_types() -> None:
    message = error_of(b"\x89PNG\r\n", "photo.png")
    assert message == (
        "photo.png: unsupported file type '.png'; supported: .txt, .md, .markdown, .html, .htm, .pdf, .docx"
    )


def test_supported_extensions_match_media_types() -> None:
    expected = {".txt", ".md", ".markdown", ".html", ".htm", ".pdf", ".docx"}
    assert expected == SUPPORTED_EXTENSIONS
    assert set(MEDIA_TYPES) == SUPPORTED_EXTENSIONS


def test_detect_media_type_by_content_and_extension() -> None:
    assert detect_media_type(make_pdf(["x"]), "a.pdf") == PDF
    assert detect_media_type(make_docx(), "no-extension") == DOCX
    assert detect_media_type(b"# hi", "A.MD") == "text/markdown"
    assert detect_media_type(b"<p>hi</p>", "a.htm") == "text/html"
    with pytest.raises(LoadError, match="unsupported file type"):
        detect_media_type(b"hello", "a.csv")


def test_too_large_bytes_names_sizes_and_setting() -> None:
    message = error_of(b"x" * 1001, "big.txt", max_bytes=1000)
    assert message.startswith("big.txt: 1,001 bytes exceeds the 1,000 bytes limit")
    assert "ATTEST_MAX_FILE_BYTES" in message


def test_too_large_message_uses_megabytes() -> None:
    message = error_of(b"x" * (3 * 1024 * 1024), "big.txt", max_bytes=2 * 1024 * 1024)
    assert "3.0 MB exceeds the 2.0 MB limit (ATTEST_MAX_FILE_BYTES)" in message


def test_load_file_checks_size_before_reading(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "big.txt"
    path.write_bytes(b"y" * 101)

    def no_reading(*args: object, **kwargs: object) -> None:
        raise AssertionError("the file was opened")

    monkeypatch.setattr(Path, "open", no_reading)
    monkeypatch.setattr(Path, "read_bytes", no_reading)
    with pytest.raises(LoadError, match=r"big\.txt: 101 bytes exceeds .*ATTEST_MAX_FILE_BYTES"):
        load_file(path, max_bytes=100)


def test_load_file_reads_each_format(tmp_path: Path) -> None:
    files = {
        "a.txt": b"plain words",
        "b.md": b"# Heading\n\nbody",
        "c.html": HTML_PAGE,
        "d.pdf": make_pdf(["pdf words"]),
        "e.docx": make_docx(),
    }
    for name, data in files.items():
        (tmp_path / name).write_bytes(data)
    loaded = {name: load_file(tmp_path / name, max_bytes=MAX) for name in files}
    assert loaded["a.txt"].text == "plain words"
    assert loaded["b.md"].title == "Heading"
    assert loaded["c.html"].title == "Holiday Policy"
    assert loaded["d.pdf"].text == "pdf words"
    assert loaded["e.docx"].text.startswith("# Quarterly Report")


def test_load_file_exactly_at_the_limit_is_accepted(tmp_path: Path) -> None:
    path = tmp_path / "edge.txt"
    path.write_bytes(b"z" * 100)
    assert load_file(path, max_bytes=100).text == "z" * 100


def test_load_file_missing_file_and_directory(tmp_path: Path) -> None:
    with pytest.raises(LoadError, match="ghost.txt: the file does not exist"):
        load_file(tmp_path / "ghost.txt", max_bytes=MAX)
    with pytest.raises(LoadError, match="not a regular file"):
        load_file(tmp_path, max_bytes=MAX)


def test_load_file_empty(tmp_path: Path) -> None:
    path = tmp_path / "notes.txt"
    path.touch()
    with pytest.raises(LoadError, match=r"^notes\.txt: the file is empty$"):
        load_file(path, max_bytes=MAX)


def test_unexpected_parser_failure_becomes_load_error(monkeypatch: pytest.MonkeyPatch) -> None:
    from attest.ingest import formats

    def explode(data: bytes, name: str, *, max_bytes: int) -> None:
        raise RuntimeError("parser bug")

    monkeypatch.setitem(formats.EXTRACTORS, "text/html", explode)
    message = error_of(b"<p>hi</p>", "page.html")
    assert message.startswith("page.html: ") and "RuntimeError: parser bug" in message
