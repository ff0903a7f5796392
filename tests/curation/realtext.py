"""Real English prose and Python code found on every Debian machine, for curation tests.

Sources: package descriptions in /var/lib/dpkg/status, the licence texts in /usr/share/common-licenses
and the docstrings and sources of the Python standard library. Nothing is downloaded.
"""

from __future__ import annotations

import ast
import re
import sys
from functools import lru_cache
from pathlib import Path

STDLIB = Path(sys.base_prefix) / "lib" / f"python{sys.version_info.major}.{sys.version_info.minor}"


def _field(stanza: str, name: str) -> str | None:
    m = re.search(rf"^{name}: (.+)$", stanza, re.MULTILINE)
    return m.group(1).strip() if m else None


def _unique(texts: list[str], min_words: int) -> tuple[str, ...]:
    seen: set[str] = set()
    out = []
    for text in texts:
        if len(text.split()) >= min_words and text not in seen:
            seen.add(text)
            out.append(text)
    return tuple(out)


IMAGE = Path(__file__).resolve().parents[2] / "specs/data/tiny/corpus/image_inputs.txt"


@lru_cache(maxsize=1)
def package_descriptions(min_words: int = 25) -> tuple[str, ...]:
    """Descriptions of the machine image's own packages (the tiny corpus's list): packages
    installed later (a browser for one test) must not change what other tests train on."""
    listed = {line.split(" ", 1)[1] for line in IMAGE.read_text().splitlines() if line.startswith("package ")}
    status = Path("/var/lib/dpkg/status").read_text(errors="replace")
    stanzas = [s for s in status.split("\n\n")
               if f"{_field(s, 'Package')}:{_field(s, 'Architecture') or 'all'}" in listed]
    blocks = re.findall(r"^Description: (.*\n(?: .*\n)*)", "\n\n".join(stanzas) + "\n", re.MULTILINE)
    texts = [" ".join(line.strip() for line in b.splitlines() if line.strip() != ".") for b in blocks]
    return _unique(texts, min_words)


@lru_cache(maxsize=1)
def licence_paragraphs(min_words: int = 25) -> tuple[str, ...]:
    texts: list[str] = []
    for lic in sorted(Path("/usr/share/common-licenses").glob("*")):
        if lic.is_file():
            texts.extend(p.strip() for p in re.split(r"\n\s*\n", lic.read_text(errors="replace")))
    return _unique(texts, min_words)


@lru_cache(maxsize=1)
def docstrings(min_words: int = 25) -> tuple[str, ...]:
    texts: list[str] = []
    for path in sorted(STDLIB.glob("*.py")):
        try:
            tree = ast.parse(path.read_text(errors="replace"))
        except SyntaxError:
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.FunctionDef | ast.ClassDef | ast.Module):
                doc = ast.get_docstring(node)
                if doc:
                    texts.extend(p.strip() for p in re.split(r"\n\s*\n", doc))
    return _unique(texts, min_words)


def prose() -> tuple[str, ...]:
    """Paragraph-sized documents of real prose (a few thousand), in a fixed order."""
    return package_descriptions() + licence_paragraphs() + docstrings()


@lru_cache(maxsize=1)
def code_files(limit: int = 400) -> tuple[str, ...]:
    """Python source files of the standard library, in a fixed order."""
    return tuple(p.read_text(errors="replace") for p in sorted(STDLIB.glob("*.py"))[:limit])
