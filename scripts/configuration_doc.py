"""Write docs/configuration.md from the settings class, so the two cannot drift apart.

One row per field of :class:`attest.core.settings.Settings`, in declaration order: its
environment variable(s), its default, the values it accepts (from its type and bounds) and
its meaning (the field's ``description``). Secret values are never printed.

Usage:
    .venv/bin/python scripts/configuration_doc.py          # rewrite docs/configuration.md
    .venv/bin/python scripts/configuration_doc.py --check  # exit 1 when it is out of date
"""

from __future__ import annotations

import argparse
import enum
import json
import sys
import types
import typing
from pathlib import Path
from typing import Any

import annotated_types
from pydantic import AliasChoices, SecretStr
from pydantic.fields import FieldInfo

from attest.core.settings import Settings

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "configuration.md"
COMMAND = ".venv/bin/python scripts/configuration_doc.py"

HEADER = f"""\
# Configuration

<!-- Generated from attest/core/settings.py by {COMMAND}; do not edit by hand. -->

Attest reads its settings from `ATTEST_*` environment variables and, when
`ATTEST_CONFIG_FILE` names one, from a TOML file with the same keys in lower case
(`data_dir = "/srv/attest"`); environment variables win over the file. An empty variable
means the default. A value that is not accepted stops Attest at start-up with a message
naming the setting. `.env.example` lists every setting for the Docker Compose deployment
([deployment.md](deployment.md)).

This page is generated from the settings class (`attest/core/settings.py`): change a
field's `description` there and run `{COMMAND}`.

| variable | default | accepts | meaning |
|---|---|---|---|
"""


def variables(name: str, field: FieldInfo) -> list[str]:
    """The environment variables that set a field, ``ATTEST_`` ones first."""
    alias = field.validation_alias
    choices = alias.choices if isinstance(alias, AliasChoices) else [f"ATTEST_{name}"]
    names = dict.fromkeys(str(choice).upper() for choice in choices)  # ordered, without repeats
    return sorted(names, key=lambda n: not n.startswith("ATTEST_"))


def default(field: FieldInfo) -> str:
    """The default as it would be written in the environment; secrets only as empty or not."""
    value: Any = field.default_factory() if field.default_factory else field.default  # type: ignore[call-arg]
    if isinstance(value, SecretStr):
        return "(empty)" if not value.get_secret_value() else "(secret, not shown)"
    if value is None or value == "":
        return "(empty)"
    if isinstance(value, bool):
        value = str(value).lower()
    elif isinstance(value, enum.Enum):
        value = value.value
    elif isinstance(value, list):
        value = json.dumps(value)
    elif isinstance(value, Path) and not value.is_absolute():
        value = f"./{value}"  # relative to the working directory
    return f"`{value}`"


def accepts(field: FieldInfo) -> str:
    """The kind of value a field takes, with its bounds."""
    kinds = [kind for kind in _members(field.annotation) if kind is not type(None)]
    words = " or ".join(_kind(kind) for kind in kinds)
    bounds = [
        f"{sign} {getattr(rule, attr)}"
        for rule in field.metadata
        for bound, attr, sign in _BOUNDS
        if isinstance(rule, bound)
    ]
    return " ".join([words, ", ".join(bounds)]).strip()


_BOUNDS = (
    (annotated_types.Ge, "ge", "≥"),
    (annotated_types.Gt, "gt", ">"),
    (annotated_types.Le, "le", "≤"),
    (annotated_types.Lt, "lt", "<"),
)


def _members(annotation: Any) -> tuple[Any, ...]:
    if isinstance(annotation, types.UnionType) or typing.get_origin(annotation) is typing.Union:
        return typing.get_args(annotation)
    return (annotation,)


def _kind(kind: Any) -> str:
    if isinstance(kind, type) and issubclass(kind, enum.Enum):
        return " / ".join(f"`{member.value}`" for member in kind)
    if typing.get_origin(kind) is list:
        return "JSON list"
    names = {bool: "true / false", int: "integer", float: "number", str: "text", Path: "path"}
    return names.get(kind, "secret text" if kind is SecretStr else getattr(kind, "__name__", str(kind)))


def render(settings: type[Settings] = Settings) -> str:
    """The whole Markdown page for ``settings``."""
    rows = []
    for name, field in settings.model_fields.items():
        variable = " or ".join(f"`{v}`" for v in variables(name, field))
        meaning = (field.description or "").replace("|", "\\|")
        rows.append(f"| {variable} | {default(field)} | {accepts(field)} | {meaning} |")
    return HEADER + "\n".join(rows) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only say whether the page is up to date")
    args = parser.parse_args()
    page = render()
    if args.check:
        if DOC.read_text(encoding="utf-8") != page:
            print(f"{DOC.relative_to(ROOT)} is out of date: run {COMMAND}", file=sys.stderr)
            return 1
        return 0
    DOC.write_text(page, encoding="utf-8")
    print(f"wrote {DOC.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
