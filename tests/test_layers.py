"""Imports only point down the layers, and no two packages import each other.

Every import in ``attest/`` counts: at module level or inside a function, absolute or
relative, under ``TYPE_CHECKING`` or not. A package that is in no layer fails the test too,
so that a new one is placed on purpose.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "attest"

# The layers of docs/architecture.md, lowest first; a package may import its own layer or lower.
LAYERS = [
    ("core", "text"),
    ("retrieval", "ingest"),
    ("generation", "verify", "reader"),
    ("answers",),
    ("api",),
    ("ui", "eval"),
    ("cli", "__main__"),
]
LAYER_OF = {package: level for level, packages in enumerate(LAYERS) for package in packages}
# Alembic runs the migrations on their own; they need the models and settings, nothing above.
MIGRATIONS_MAY_IMPORT = {"core"}


def package_of(module: str) -> str | None:
    """``attest.retrieval.cache`` -> ``retrieval``; ``attest.cli`` -> ``cli``; not Attest's: ``None``."""
    parts = module.split(".")
    return parts[1] if parts[0] == "attest" and len(parts) > 1 else None


def imported_modules(source: str, module: str) -> Iterator[str]:
    """The absolute name of every module that ``module`` imports (``from attest import x``: ``attest.x``)."""
    package = module.split(".")[:-1]  # "attest.api.app" and "attest.api.__init__" are in "attest.api"
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - node.level + 1]
                name = ".".join([*base, node.module] if node.module else base)
            else:
                name = node.module or ""
            if name == "attest":
                yield from (f"attest.{alias.name}" for alias in node.names)
            else:
                yield name


def package_imports() -> list[tuple[str, str, str]]:
    """``(file, importing package, imported package)``, once each, for imports across packages."""
    edges = set()
    for path in sorted(PACKAGE.rglob("*.py")):
        module = ".".join(path.relative_to(ROOT).with_suffix("").parts)
        source = package_of(module)
        for imported in imported_modules(path.read_text(encoding="utf-8"), module):
            target = package_of(imported)
            if source is not None and target is not None and target != source:
                edges.add((str(path.relative_to(ROOT)), source, target))
    return sorted(edges)


def upward(edges: list[tuple[str, str, str]]) -> list[str]:
    """Imports of a higher layer, of an unplaced package, or by a migration of anything but core."""
    found = []
    for file, source, target in edges:
        if source == "migrations":
            wrong = target not in MIGRATIONS_MAY_IMPORT
        elif source not in LAYER_OF or target not in LAYER_OF:
            wrong = True
        else:
            wrong = LAYER_OF[target] > LAYER_OF[source]
        if wrong:
            found.append(f"{file}: {source} -> {target}")
    return found


def cyclic(edges: list[tuple[str, str, str]]) -> list[str]:
    """Imports that lie on a cycle of packages: the imported package imports the importer back."""
    graph: dict[str, set[str]] = defaultdict(set)
    for _file, source, target in edges:
        graph[source].add(target)

    def reaches(start: str, goal: str) -> bool:
        seen, stack = {start}, [start]
        while stack:
            for nxt in graph[stack.pop()]:
                if nxt == goal:
                    return True
                if nxt not in seen:
                    seen.add(nxt)
                    stack.append(nxt)
        return False

    return [f"{file}: {source} -> {target}" for file, source, target in edges if reaches(target, source)]


@pytest.mark.unit
def test_the_walk_sees_every_kind_of_import() -> None:
    source = (
        "import attest.text.words\n"
        "from attest.core.models import Role\n"
        "from attest import cli\n"
        "from . import hybrid\n"
        "from ..ingest.pipeline import IngestPipeline\n"
        "from .. import answers\n"
        "def later():\n"
        "    from attest.ui import app\n"
    )
    assert sorted(imported_modules(source, "attest.retrieval.service")) == [
        "attest.answers",
        "attest.cli",
        "attest.core.models",
        "attest.ingest.pipeline",
        "attest.retrieval",
        "attest.text.words",
        "attest.ui",
    ]
    assert ("attest/__main__.py", "__main__", "cli") in package_imports()
    assert cyclic([("a.py", "a", "b"), ("b.py", "b", "c"), ("c.py", "c", "a"), ("d.py", "d", "a")]) == [
        "a.py: a -> b",
        "b.py: b -> c",
        "c.py: c -> a",
    ]
    edges = [("x.py", "core", "answers"), ("y.py", "answers", "core"), ("z.py", "migrations", "text")]
    assert upward(edges) == ["x.py: core -> answers", "z.py: migrations -> text"]


@pytest.mark.unit
def test_imports_only_point_down() -> None:
    wrong = upward(package_imports())
    assert not wrong, "imports up the layers, or of or by a package in no layer:\n" + "\n".join(wrong)


@pytest.mark.unit
def test_no_two_packages_import_each_other() -> None:
    wrong = cyclic(package_imports())
    assert not wrong, "imports on a cycle of packages:\n" + "\n".join(wrong)


@pytest.mark.integration
def test_the_query_service_does_not_load_spacy() -> None:
    """Serving queries needs no entity model unless the entity boost is on."""
    code = (
        "import sys, attest.retrieval.service as service; "
        "assert 'spacy' not in sys.modules, 'spaCy was loaded'; print(service.__file__)"
    )
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert Path(result.stdout.strip()).is_relative_to(PACKAGE)  # this checkout, not an installed copy
