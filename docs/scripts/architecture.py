"""The layer diagram of docs/architecture.md, drawn from the import-linter contract.

Reads ``[tool.importlinter]`` in ``pyproject.toml`` (the contract ``lint-imports`` keeps in CI)
and the package's files, and writes ``docs/assets/tables/architecture.md``: the layers top to
bottom as a text diagram (a module may import only from the layers below its own), every module
of each layer with the first line of its docstring, and the contract's other rules. So the page
cannot drift from the contract: ``tests/test_docs_figures.py`` renders it again and compares.

Run: ``python docs/scripts/architecture.py`` (no model, no data; ``--check`` only compares).
"""

from __future__ import annotations

import argparse
import ast
import re
import sys
from pathlib import Path
from typing import Any

import tomllib

ROOT = Path(__file__).resolve().parents[2]
TABLE = ROOT / "docs" / "assets" / "tables" / "architecture.md"
WIDTH = 72
ROLE = re.compile(r":\w+:`~?([\w.]+)`")  # a Sphinx role: keep the last name, as code


def contracts(pyproject: Path = ROOT / "pyproject.toml") -> list[dict[str, Any]]:
    """The import-linter contracts of ``pyproject.toml``, in order."""
    config = tomllib.loads(pyproject.read_text())["tool"]["importlinter"]
    return list(config.get("contracts", []))


def module_path(name: str) -> Path | None:
    """The file or package folder of a dotted module name, or ``None`` if there is none."""
    base = ROOT.joinpath(*name.split("."))
    if (base / "__init__.py").is_file():
        return base
    if base.with_suffix(".py").is_file():
        return base.with_suffix(".py")
    return None


def summary(path: Path) -> str:
    """The first line of a module's docstring (a package's: of its ``__init__.py``)."""
    source = path / "__init__.py" if path.is_dir() else path
    doc = ast.get_docstring(ast.parse(source.read_text())) or ""
    first = doc.strip().split("\n\n", 1)[0].replace("\n", " ")
    first = ROLE.sub(lambda m: f"``{m.group(1).rsplit('.', 1)[-1]}``", first)
    return first.replace("|", "/")


def members(name: str) -> list[tuple[str, str]]:
    """``(dotted name, summary)`` of a layer's module and, for a package, each module in it."""
    path = module_path(name)
    if path is None:
        return [(name, "(not in this tree)")]
    rows = [(name, summary(path))]
    if path.is_dir():
        for child in sorted(path.rglob("*.py")):
            if child.name == "__init__.py" and child.parent == path:
                continue
            if "__pycache__" in child.parts:
                continue
            rel = child.relative_to(ROOT).with_suffix("")
            dotted = ".".join(rel.parts[:-1] if child.name == "__init__.py" else rel.parts)
            rows.append((dotted, summary(child)))
    return rows


def diagram(layers: list[str]) -> list[str]:
    """The layers top to bottom, one row each; siblings (``a | b``) side by side on their row."""
    lines: list[str] = []
    for i, layer in enumerate(layers):
        row = "   ".join(
            f"[ {p.strip().removeprefix('rerank_plugins.')} ]" for p in layer.split("|")
        )
        lines.append(f"{row:^{WIDTH}}".rstrip())
        if i < len(layers) - 1:
            lines.append(f"{'|':^{WIDTH}}".rstrip())
            lines.append(f"{'v':^{WIDTH}}".rstrip())
    return lines


def render(rules: list[dict[str, Any]] | None = None) -> str:
    """The Markdown the architecture page includes."""
    rules = contracts() if rules is None else rules
    layered = next(c for c in rules if c.get("type") == "layers")
    layers: list[str] = list(layered["layers"])
    out = [
        "<!-- Written by docs/scripts/architecture.py from [tool.importlinter] in pyproject.toml; "
        "edit the contract or the script, not this file. -->",
        "",
        f"Contract: **{layered['name']}** (`lint-imports` checks it in CI). A module imports",
        "only from the layers below its own (each arrow points the way imports go); modules",
        "side by side on one row are independent: neither imports the other.",
        "",
        "```text",
        *diagram(layers),
        "```",
        "",
        "| layer | module | what it is |",
        "| --- | --- | --- |",
    ]
    for level, layer in enumerate(layers, 1):
        for part in (p.strip() for p in layer.split("|")):
            for dotted, text in members(part):
                out.append(f"| {level} | `{dotted}` | {text} |")
    others = [c for c in rules if c is not layered]
    if others:
        out += ["", "The contract's other rules:", ""]
        for rule in others:
            named = ", ".join(
                f"`{m}`"
                for key in ("modules", "source_modules", "forbidden_modules", "containers")
                for m in rule.get(key, [])
            )
            out.append(f"- **{rule['name']}** ({rule['type']}): {named}")
    return "\n".join(out) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="compare only; exit 1 if stale")
    args = parser.parse_args()
    text = render()
    if args.check:
        stale = not TABLE.is_file() or TABLE.read_text() != text
        if stale:
            print(f"{TABLE.relative_to(ROOT)} is stale: run python docs/scripts/architecture.py")
        return int(stale)
    TABLE.write_text(text)
    print(f"wrote {TABLE.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
