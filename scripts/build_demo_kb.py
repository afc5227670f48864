#!/usr/bin/env python3
"""Build the Attest demo knowledge base: the staff handbook of "Kestrel Lane Analytics".

Kestrel Lane Analytics, its city (Port Alder), people, systems and policies are invented;
all text was written for this project. The source text of each document lives in
``scripts/demo_kb_src/<name>.md`` in a small Markdown subset (``#``/``##``/``###``
headings, paragraphs, ``- `` bullets, ``1. `` numbered lists and pipe tables). This
script renders every source into its target format and writes the results into
``attest/demo_kb/``:

* ``.txt``  plain text with underlined headings and aligned tables;
* ``.md``   the Markdown source, with a YAML front-matter block added;
* ``.html`` a complete intranet page (head, header, nav menu, footer, inline scripts, a
  cookie banner) so that a loader has to strip the page furniture;
* ``.pdf``  fpdf2 with the core Helvetica font (latin-1 only), running header/footer;
* ``.docx`` python-docx with real heading styles, list styles and a table.

Generation is deterministic: PDF creation dates and DOCX core properties are fixed, and
the DOCX zip container is rewritten with fixed entry timestamps (python-docx itself
stamps zip entries with the current time). Re-running produces byte-identical files.

Usage:  .venv/bin/python scripts/build_demo_kb.py [--out DIR]
"""

from __future__ import annotations

import argparse
import html
import io
import re
import sys
import textwrap
import zipfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from docx import Document
from docx.shared import Pt
from fpdf import FPDF
from fpdf.fonts import FontFace

ROOT = Path(__file__).resolve().parent.parent
SRC_DIR = Path(__file__).resolve().parent / "demo_kb_src"
OUT_DIR = ROOT / "attest" / "demo_kb"

COMPANY = "Kestrel Lane Analytics"
FIXED_DATE = datetime(2026, 1, 1, tzinfo=UTC)
ZIP_DATE = (2026, 1, 1, 0, 0, 0)

# (source stem, output format, last-updated date shown in page furniture / metadata)
MANIFEST: list[tuple[str, str, str]] = [
    ("annual_leave_and_holidays", "txt", "2026-01-01"),
    ("sick_leave", "txt", "2026-01-01"),
    ("communication_tools", "txt", "2026-01-12"),
    ("contractor_policy", "txt", "2026-01-01"),
    ("remote_work", "md", "2026-01-01"),
    ("code_review_guidelines", "md", "2026-01-20"),
    ("onboarding_checklist", "md", "2026-01-08"),
    ("glossary", "md", "2026-01-30"),
    ("expenses_and_travel", "html", "2026-02-01"),
    ("it_security_and_passwords", "html", "2026-03-01"),
    ("office_access_and_visitors", "html", "2026-01-15"),
    ("about_kestrel_lane", "html", "2026-01-05"),
    ("parental_leave", "pdf", "2026-01-01"),
    ("benefits_health_and_pension", "pdf", "2026-01-01"),
    ("data_retention_and_privacy", "pdf", "2026-01-01"),
    ("engineering_operations_manual", "pdf", "2026-02-01"),
    ("equipment_and_laptops", "docx", "2026-01-01"),
    ("performance_reviews", "docx", "2026-01-01"),
    ("learning_budget", "docx", "2026-01-01"),
    ("incident_response_on_call", "docx", "2026-02-01"),
]


# --- parsing the Markdown subset ---------------------------------------------------------


@dataclass
class Block:
    kind: str  # h1 | h2 | h3 | p | ul | ol | table
    text: str = ""
    items: list[str] | None = None
    rows: list[list[str]] | None = None  # tables: first row is the header


_OL_RE = re.compile(r"^\d+\.\s+")


def parse(source: str) -> list[Block]:
    blocks: list[Block] = []
    for chunk in re.split(r"\n\s*\n", source.strip()):
        lines = [line.rstrip() for line in chunk.strip().splitlines()]
        first = lines[0]
        if first.startswith("### "):
            blocks.append(Block("h3", first[4:].strip()))
        elif first.startswith("## "):
            blocks.append(Block("h2", first[3:].strip()))
        elif first.startswith("# "):
            blocks.append(Block("h1", first[2:].strip()))
        elif first.startswith("|"):
            rows = []
            for line in lines:
                cells = [c.strip() for c in line.strip().strip("|").split("|")]
                if all(re.fullmatch(r":?-{3,}:?", c) for c in cells):
                    continue
                rows.append(cells)
            blocks.append(Block("table", rows=rows))
        elif first.startswith("- "):
            blocks.append(Block("ul", items=_list_items(lines, "- ")))
        elif _OL_RE.match(first):
            blocks.append(Block("ol", items=_list_items(lines, None)))
        else:
            blocks.append(Block("p", " ".join(line.strip() for line in lines)))
        if blocks[-1].kind in {"h1", "h2", "h3"} and len(lines) > 1:
            raise ValueError(f"heading followed by text without a blank line: {first!r}")
    return blocks


def _list_items(lines: list[str], marker: str | None) -> list[str]:
    items: list[str] = []
    for line in lines:
        if marker and line.startswith(marker):
            items.append(line[len(marker) :].strip())
        elif marker is None and _OL_RE.match(line):
            items.append(_OL_RE.sub("", line, count=1).strip())
        else:  # continuation line
            items[-1] += " " + line.strip()
    return items


def title_of(blocks: list[Block]) -> str:
    return next(b.text for b in blocks if b.kind == "h1")


# --- plain text --------------------------------------------------------------------------


def render_txt(blocks: list[Block], updated: str) -> str:
    out: list[str] = []
    width = 78
    for b in blocks:
        if b.kind == "h1":
            out += [b.text, "=" * len(b.text), ""]
        elif b.kind == "h2":
            out += ["", b.text, "-" * len(b.text), ""]
        elif b.kind == "h3":
            out += [b.text + ":", ""]
        elif b.kind == "p":
            out += textwrap.wrap(b.text, width) + [""]
        elif b.kind in {"ul", "ol"}:
            for i, item in enumerate(b.items or [], 1):
                bullet = "  * " if b.kind == "ul" else f"  {i}. "
                out += textwrap.wrap(item, width, initial_indent=bullet, subsequent_indent=" " * len(bullet))
            out.append("")
        elif b.kind == "table":
            rows = b.rows or []
            widths = [max(len(r[c]) for r in rows) for c in range(len(rows[0]))]
            lines = ["  " + "   ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) for r in rows]
            lines.insert(1, "  " + "   ".join("-" * w for w in widths))
            out += [line.rstrip() for line in lines]
            out.append("")
    out += ["", f"Kestrel Lane Analytics staff handbook. Internal. Last updated {updated}."]
    text = "\n".join(out)
    return re.sub(r"\n{3,}", "\n\n", text).strip() + "\n"


# --- Markdown ----------------------------------------------------------------------------


def render_md(source: str, title: str, updated: str) -> str:
    front = (
        "---\n"
        f"title: {title}\n"
        f"company: {COMPANY}\n"
        "collection: Staff handbook\n"
        "classification: Internal\n"
        f"updated: {updated}\n"
        "---\n\n"
    )
    return front + source.strip() + "\n"


# --- HTML --------------------------------------------------------------------------------

_CSS = """\
body{font-family:Georgia,serif;margin:0;color:#1d2430;background:#f7f7f4}
.site-header{background:#12324a;color:#fff;padding:14px 28px;display:flex;justify-content:space-between}
.site-header .brand{font-weight:bold;letter-spacing:.04em}
nav.handbook-nav{background:#e5ebef;padding:8px 28px;font-size:14px}
nav.handbook-nav ul{list-style:none;margin:0;padding:0;display:flex;flex-wrap:wrap;gap:14px}
nav.handbook-nav a{color:#12324a;text-decoration:none}
nav.handbook-nav a[aria-current=page]{font-weight:bold;text-decoration:underline}
main{max-width:820px;margin:24px auto;background:#fff;padding:24px 40px}
table{border-collapse:collapse;width:100%;margin:12px 0}
th,td{border:1px solid #c9d2d8;padding:6px 8px;text-align:left;vertical-align:top}
th{background:#eef2f5}
footer{font-size:13px;color:#5a6470;text-align:center;padding:20px}
.cookie-banner{position:fixed;bottom:0;left:0;right:0;background:#222;color:#eee;padding:10px;font-size:13px}
"""


def _esc(text: str) -> str:
    return html.escape(text, quote=False)


def render_html(blocks: list[Block], stem: str, updated: str, nav: list[tuple[str, str]]) -> str:
    title = title_of(blocks)
    body: list[str] = []
    for b in blocks:
        if b.kind in {"h1", "h2", "h3"}:
            body.append(f"<{b.kind}>{_esc(b.text)}</{b.kind}>")
        elif b.kind == "p":
            body.append(f"<p>{_esc(b.text)}</p>")
        elif b.kind in {"ul", "ol"}:
            items = "\n".join(f"  <li>{_esc(i)}</li>" for i in b.items or [])
            body.append(f"<{b.kind}>\n{items}\n</{b.kind}>")
        elif b.kind == "table":
            rows = b.rows or []
            head = "".join(f"<th>{_esc(c)}</th>" for c in rows[0])
            trs = "\n".join("  <tr>" + "".join(f"<td>{_esc(c)}</td>" for c in r) + "</tr>" for r in rows[1:])
            body.append(f"<table>\n<thead><tr>{head}</tr></thead>\n<tbody>\n{trs}\n</tbody>\n</table>")
    current = ' aria-current="page"'
    nav_items = "\n".join(
        f'      <li><a href="{href}"{current if href.startswith(stem + ".") else ""}>{_esc(label)}</a></li>'
        for href, label in nav
    )
    article = "\n".join(body)
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <meta name="description" content="{html.escape(title)} - {COMPANY} staff handbook">
  <title>{_esc(title)} | Kestrel Lane Staff Handbook</title>
  <style>
{_CSS}  </style>
  <script>
    window.lanternAnalytics = window.lanternAnalytics || [];
    window.lanternAnalytics.push({{event: "page_view", page: "{stem}", space: "handbook"}});
  </script>
</head>
<body>
  <header class="site-header">
    <span class="brand">{COMPANY}</span>
    <span class="space">Lantern &middot; Staff Handbook</span>
    <form class="search" role="search" action="/search">
      <input type="search" name="q" placeholder="Search Lantern">
    </form>
  </header>
  <nav class="handbook-nav" aria-label="Handbook sections">
    <ul>
{nav_items}
    </ul>
  </nav>
  <main>
    <div class="breadcrumbs"><a href="/">Lantern</a> &rsaquo; <a href="/handbook">Handbook</a></div>
    <article>
{article}
    </article>
    <p class="page-meta">Last updated {updated}. Classification: Internal.</p>
  </main>
  <footer>
    <p>&copy; 2026 {COMPANY}, 18 Quayside Row, Port Alder. Internal use only.</p>
    <p><a href="/handbook/feedback">Feedback on this page</a> &middot;
      <a href="/privacy">Privacy notice</a> &middot; <a href="/accessibility">Accessibility</a></p>
  </footer>
  <div class="cookie-banner" id="cookie-banner">
    Lantern uses essential cookies only. <button id="cookie-ok">OK</button>
  </div>
  <script>
    document.getElementById("cookie-ok").addEventListener("click", function () {{
      document.getElementById("cookie-banner").style.display = "none";
      try {{ localStorage.setItem("lantern-cookies", "ok"); }} catch (e) {{}}
    }});
    if (localStorage.getItem("lantern-cookies") === "ok") {{
      document.getElementById("cookie-banner").style.display = "none";
    }}
  </script>
</body>
</html>
"""


# --- PDF ---------------------------------------------------------------------------------


class HandbookPDF(FPDF):
    def __init__(self, doc_title: str) -> None:
        super().__init__(orientation="P", unit="mm", format="A4")
        self.doc_title = doc_title
        self.set_margins(20, 20, 20)
        self.set_auto_page_break(auto=True, margin=20)

    def header(self) -> None:
        self.set_font("Helvetica", "", 8)
        self.set_text_color(110, 110, 110)
        self.cell(0, 5, f"{COMPANY} - {self.doc_title}", align="L")
        self.ln(8)
        self.set_text_color(0, 0, 0)

    def footer(self) -> None:
        self.set_y(-14)
        self.set_font("Helvetica", "", 8)
        self.set_text_color(110, 110, 110)
        self.cell(0, 5, f"Internal - Page {self.page_no()} of {{nb}}", align="C")
        self.set_text_color(0, 0, 0)


def _latin1(text: str) -> str:
    text.encode("latin-1")  # raises if the source has characters the core fonts lack
    return text


def render_pdf(blocks: list[Block], updated: str) -> bytes:
    title = title_of(blocks)
    pdf = HandbookPDF(title)
    pdf.set_title(title)
    pdf.set_author(COMPANY)
    pdf.set_subject(f"Staff handbook, updated {updated}")
    pdf.set_creator("Kestrel Lane handbook builder")
    pdf.set_keywords("handbook policy internal")
    pdf.set_creation_date(FIXED_DATE)
    pdf.alias_nb_pages()
    pdf.add_page()
    epw = pdf.epw
    for b in blocks:
        if b.kind == "h1":
            pdf.set_font("Helvetica", "B", 20)
            pdf.multi_cell(epw, 9, _latin1(b.text), new_x="LMARGIN", new_y="NEXT")
            pdf.ln(3)
        elif b.kind in {"h2", "h3"}:
            size = 14 if b.kind == "h2" else 11.5
            if pdf.get_y() > pdf.h - 45:  # keep headings with what follows
                pdf.add_page()
            pdf.ln(3)
            pdf.set_font("Helvetica", "B", size)
            pdf.multi_cell(epw, 7, _latin1(b.text), new_x="LMARGIN", new_y="NEXT")
            pdf.ln(1)
        elif b.kind == "p":
            pdf.set_font("Helvetica", "", 10.5)
            pdf.multi_cell(epw, 5.4, _latin1(b.text), new_x="LMARGIN", new_y="NEXT")
            pdf.ln(2.5)
        elif b.kind in {"ul", "ol"}:
            pdf.set_font("Helvetica", "", 10.5)
            for i, item in enumerate(b.items or [], 1):
                marker = "-" if b.kind == "ul" else f"{i}."
                y = pdf.get_y()
                pdf.set_x(pdf.l_margin + 3)
                pdf.cell(6, 5.4, marker)
                pdf.set_xy(pdf.l_margin + 9, y)
                pdf.multi_cell(epw - 9, 5.4, _latin1(item), new_x="LMARGIN", new_y="NEXT")
                pdf.ln(0.8)
            pdf.ln(2)
        elif b.kind == "table":
            rows = b.rows or []
            ncols = len(rows[0])
            longest = [max(len(r[c]) for r in rows) + 6 for c in range(ncols)]
            pdf.set_font("Helvetica", "", 9.5)
            with pdf.table(
                col_widths=tuple(longest),
                width=epw,
                line_height=5,
                text_align="LEFT",
                headings_style=FontFace(emphasis="BOLD", fill_color=(230, 236, 240)),
                padding=1.5,
            ) as table:
                for r in rows:
                    row = table.row()
                    for cell in r:
                        row.cell(_latin1(cell))
            pdf.ln(3)
    return bytes(pdf.output())


# --- DOCX --------------------------------------------------------------------------------


def render_docx(blocks: list[Block], updated: str) -> bytes:
    title = title_of(blocks)
    doc = Document()
    doc.styles["Normal"].font.name = "Calibri"
    doc.styles["Normal"].font.size = Pt(11)
    props = doc.core_properties
    props.title = title
    props.author = COMPANY
    props.last_modified_by = "Kestrel Lane People Team"
    props.subject = "Staff handbook"
    props.category = "Policy"
    props.keywords = "handbook; policy; internal"
    props.comments = f"Last updated {updated}"
    props.created = FIXED_DATE.replace(tzinfo=None)
    props.modified = FIXED_DATE.replace(tzinfo=None)
    props.last_printed = FIXED_DATE.replace(tzinfo=None)
    props.revision = 1
    for b in blocks:
        if b.kind == "h1":
            doc.add_heading(b.text, level=0)
        elif b.kind == "h2":
            doc.add_heading(b.text, level=1)
        elif b.kind == "h3":
            doc.add_heading(b.text, level=2)
        elif b.kind == "p":
            doc.add_paragraph(b.text)
        elif b.kind in {"ul", "ol"}:
            style = "List Bullet" if b.kind == "ul" else "List Number"
            for item in b.items or []:
                doc.add_paragraph(item, style=style)
        elif b.kind == "table":
            rows = b.rows or []
            table = doc.add_table(rows=len(rows), cols=len(rows[0]))
            table.style = "Table Grid"
            for r_idx, r in enumerate(rows):
                for c_idx, cell_text in enumerate(r):
                    cell = table.cell(r_idx, c_idx)
                    cell.text = cell_text
                    if r_idx == 0:
                        for run in cell.paragraphs[0].runs:
                            run.bold = True
            doc.add_paragraph()
    footer = doc.sections[0].footer.paragraphs[0]
    footer.text = f"{COMPANY} - Internal - Last updated {updated}"
    buf = io.BytesIO()
    doc.save(buf)
    return _normalise_zip(buf.getvalue())


def _normalise_zip(data: bytes) -> bytes:
    """Rewrite a zip with fixed entry timestamps so that the output is reproducible."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as zin, zipfile.ZipFile(out, "w") as zout:
        for info in zin.infolist():
            fixed = zipfile.ZipInfo(info.filename, date_time=ZIP_DATE)
            fixed.compress_type = zipfile.ZIP_DEFLATED
            fixed.external_attr = 0o644 << 16
            fixed.create_system = 3
            zout.writestr(fixed, zin.read(info.filename))
    return out.getvalue()


# --- main --------------------------------------------------------------------------------


def build(out_dir: Path) -> list[Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    parsed = {}
    for stem, fmt, updated in MANIFEST:
        source = (SRC_DIR / f"{stem}.md").read_text(encoding="utf-8")
        parsed[stem] = (source, parse(source), fmt, updated)
    nav = [(f"{stem}.{fmt}", title_of(blocks)) for stem, (_, blocks, fmt, _) in parsed.items()]
    written = []
    for stem, (source, blocks, fmt, updated) in parsed.items():
        path = out_dir / f"{stem}.{fmt}"
        if fmt == "txt":
            path.write_text(render_txt(blocks, updated), encoding="utf-8", newline="\n")
        elif fmt == "md":
            path.write_text(render_md(source, title_of(blocks), updated), encoding="utf-8", newline="\n")
        elif fmt == "html":
            path.write_text(render_html(blocks, stem, updated, nav), encoding="utf-8", newline="\n")
        elif fmt == "pdf":
            path.write_bytes(render_pdf(blocks, updated))
        elif fmt == "docx":
            path.write_bytes(render_docx(blocks, updated))
        else:
            raise ValueError(fmt)
        written.append(path)
    expected = {p.name for p in written}
    extra = sorted(p.name for p in out_dir.iterdir() if p.name not in expected)
    if extra:
        print(f"warning: files in {out_dir} that are not handbook documents: {extra}", file=sys.stderr)
    return written


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=OUT_DIR, help=f"output folder (default {OUT_DIR})")
    args = parser.parse_args()
    for path in build(args.out):
        print(f"{path.stat().st_size:>8}  {path}")


if __name__ == "__main__":
    main()
