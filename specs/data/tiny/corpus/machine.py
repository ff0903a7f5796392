"""Real, permissively licensed English text read from files installed on this machine image.

Sources (all listings sorted, so the output depends only on the files, not on the file system):
- Debian package descriptions from /var/lib/dpkg/status (each under its package's free license),
- license texts in /usr/share/common-licenses (verbatim copying of license texts is permitted),
- copyright files /usr/share/doc/*/copyright (notices and license texts; many are identical, which
  is a real source of exact duplicates that we keep),
- docstrings and sources of the Python 3.11 standard library (PSF-2.0), read with `ast`, never
  imported.
What is installed differs between machine images, which is why the corpus is generated once and
committed rather than read at run time.
"""

from __future__ import annotations

import ast
import hashlib
import os
import re
from dataclasses import dataclass
from pathlib import Path

from .text import clean_prose, to_ascii

DPKG_STATUS = Path("/var/lib/dpkg/status")
COMMON_LICENSES = Path("/usr/share/common-licenses")
DOC_DIR = Path("/usr/share/doc")
PY_LIB = Path("/root/.pyenv/versions/3.11.7/lib/python3.11")
IMAGE_INPUTS = Path(__file__).with_name("image_inputs.txt")


def image_inputs() -> tuple[set[str], set[str]]:
    """(package name:arch, /usr/share/doc folder) of the image the corpus was built from: only
    these are read, so packages installed later (a browser, a sandbox tool) change nothing."""
    pkgs, docs = set(), set()
    for line in IMAGE_INPUTS.read_text().splitlines():
        kind, _, name = line.partition(" ")
        if kind == "package":
            pkgs.add(name)
        elif kind == "doc":
            docs.add(name)
    return pkgs, docs


@dataclass(frozen=True)
class Package:
    name: str
    arch: str
    section: str
    priority: str
    synopsis: str
    description: str  # long description as prose paragraphs (may be empty)


def _parse_long_description(lines: list[str]) -> str:
    """Debian long descriptions: ' .' is a blank line, lines indented twice are verbatim."""
    paras: list[list[str]] = [[]]
    for line in lines:
        body = line.removeprefix(" ")
        if body.strip() == ".":
            paras.append([])
        elif body.startswith(" "):  # verbatim (lists): keep its own line
            paras[-1].append("\n" + body.strip())
        else:
            paras[-1].append(body.strip())
    out = []
    for p in paras:
        text = " ".join(p).replace(" \n", "\n").strip()
        if text:
            out.append(text)
    return clean_prose("\n\n".join(out))


def packages() -> list[Package]:
    raw = DPKG_STATUS.read_text(encoding="utf-8", errors="replace")
    listed = image_inputs()[0]
    found = []
    for stanza in raw.split("\n\n"):
        fields: dict[str, list[str]] = {}
        key = None
        for line in stanza.splitlines():
            if line.startswith((" ", "\t")) and key:
                fields[key].append(line)
            elif ":" in line:
                key, _, value = line.partition(":")
                fields[key] = [value.strip()]
        if "Package" not in fields or "Description" not in fields:
            continue
        if f"{fields['Package'][0]}:{fields.get('Architecture', ['all'])[0]}" not in listed:
            continue
        desc = fields["Description"]
        found.append(Package(
            name=fields["Package"][0], arch=fields.get("Architecture", ["all"])[0],
            section=fields.get("Section", ["misc"])[0], priority=fields.get("Priority", ["optional"])[0],
            synopsis=clean_prose(desc[0]), description=_parse_long_description(desc[1:])))
    return sorted(found, key=lambda p: (p.name, p.arch))


def licenses() -> list[tuple[str, str]]:
    """(name, text) for every file in common-licenses; symlinks (GPL -> GPL-3) are real duplicates."""
    out = []
    for name in sorted(os.listdir(COMMON_LICENSES)):
        path = COMMON_LICENSES / name
        if path.is_file():
            out.append((name, clean_prose(path.read_text(encoding="utf-8", errors="replace"))))
    return out


def copyright_files() -> list[tuple[str, str]]:
    """(package, text) for every /usr/share/doc/<package>/copyright, sorted by package."""
    out = []
    listed = image_inputs()[1]
    for name in sorted(n for n in os.listdir(DOC_DIR) if n in listed):
        path = DOC_DIR / name / "copyright"
        if path.is_file():
            out.append((name, clean_prose(path.read_text(encoding="utf-8", errors="replace"))))
    return out


def inputs_digest() -> str:
    """sha256 over everything this corpus may read (the listed packages' fields as parsed, the path
    and bytes of every other file): equal digests (and equal writer versions) mean a regeneration
    must reproduce the committed files exactly."""
    h = hashlib.sha256()
    for p in packages():
        h.update(repr(p).encode() + b"\0")
    listed = image_inputs()[1]
    paths = [COMMON_LICENSES / n for n in sorted(os.listdir(COMMON_LICENSES))]
    paths += [DOC_DIR / n / "copyright" for n in sorted(os.listdir(DOC_DIR)) if n in listed]
    paths += _module_files() + _stdlib_paths()
    for p in paths:
        if p.is_file():
            h.update(str(p).encode() + b"\0" + p.read_bytes() + b"\0")
    return h.hexdigest()


# ---------------------------------------------------------------- Python standard library

@dataclass(frozen=True)
class DocEntry:
    qualname: str   # module.Class.method
    signature: str  # "(a, b=1)" or "" for modules and classes
    doc: str


def _module_files() -> list[Path]:
    return sorted(p for p in PY_LIB.glob("*.py") if not p.name.startswith("_"))


def docstrings() -> dict[str, list[DocEntry]]:
    """Module name -> its public docstrings in source order (module, functions, classes, methods)."""
    out: dict[str, list[DocEntry]] = {}
    for path in _module_files():
        try:
            tree = ast.parse(path.read_text(encoding="utf-8"))
        except (SyntaxError, UnicodeDecodeError):
            continue
        mod = path.stem
        entries = []
        doc = ast.get_docstring(tree)
        if doc:
            entries.append(DocEntry(mod, "", clean_prose(doc)))
        for node in tree.body:
            entries.extend(_node_docs(node, mod))
        if entries:
            out[mod] = entries
    return out


def package_docstrings() -> list[str]:
    """Docstrings of the standard library's packages (email/, json/, asyncio/, ...): prose that
    `docstrings` (top-level modules, which the web pages and manuals are made of) never reads."""
    out = []
    for path in _stdlib_paths():
        if path.parent == PY_LIB:
            continue
        try:
            tree = ast.parse(path.read_text(encoding="utf-8"))
        except (SyntaxError, UnicodeDecodeError):
            continue
        for node in ast.walk(tree):
            if isinstance(node, (ast.Module, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                doc = ast.get_docstring(node)
                if doc:
                    out.append(clean_prose(doc))
    return out


def _node_docs(node: ast.AST, prefix: str) -> list[DocEntry]:
    if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        return []
    if node.name.startswith("_"):
        return []
    name = f"{prefix}.{node.name}"
    entries = []
    doc = ast.get_docstring(node)
    if isinstance(node, ast.ClassDef):
        if doc:
            entries.append(DocEntry(name, "", clean_prose(doc)))
        for child in node.body:
            entries.extend(_node_docs(child, name))
    elif doc:
        sig = to_ascii(ast.unparse(node.args))
        entries.append(DocEntry(name, f"({sig})", clean_prose(doc)))
    return entries


def _stdlib_paths() -> list[Path]:
    """Standard-library .py files, packages included; tests, codecs tables and data excluded."""
    paths = []
    for root, dirs, files in os.walk(PY_LIB):
        dirs[:] = sorted(d for d in dirs if d not in {"test", "tests", "idle_test", "site-packages",
                                                       "__pycache__", "lib2to3", "ensurepip",
                                                       "encodings", "pydoc_data"}
                         and not d.startswith("config-"))
        paths.extend(Path(root) / f for f in files if f.endswith(".py"))
    return sorted(paths, key=lambda p: str(p.relative_to(PY_LIB)))


def stdlib_sources(max_bytes: int, max_file_bytes: int) -> list[tuple[str, str]]:
    """(relative path, source) of ASCII-only standard-library modules, packages included, tests
    excluded, in sorted path order until max_bytes of source is collected."""
    paths = _stdlib_paths()
    out, total = [], 0
    for path in paths:
        raw = path.read_bytes()
        if not raw.strip() or len(raw) > max_file_bytes or not raw.isascii() or b"\r" in raw:
            continue
        if total + len(raw) > max_bytes:
            break
        out.append((str(path.relative_to(PY_LIB)), raw.decode("ascii")))
        total += len(raw)
    return out


_LETTERS = re.compile(r"[A-Za-z ]")
_UPPER = re.compile(r"[A-Z]")


def prose_paragraphs(text: str, min_words: int = 15, max_words: int = 100) -> list[str]:
    """Clean prose: sentences, mostly letters, no code or list markup. Paragraphs longer than
    max_words are cut into runs of whole sentences, so long license paragraphs count too."""
    out = []
    for para in text.split("\n\n"):
        para = " ".join(para.split())
        if not para or any(ch in para for ch in "{}[]<>=|@#$\\_*`~^"):
            continue
        if len(_LETTERS.findall(para)) / len(para) < 0.93:
            continue
        run: list[str] = []
        for sent in re.split(r"(?<=[a-z][.!?]) (?=[A-Z])", para) + [""]:
            words = sum(len(s.split()) for s in run)
            if run and (not sent or words + len(sent.split()) > max_words):
                chunk = " ".join(run)
                upper = len(_UPPER.findall(chunk)) / len(chunk)
                if min_words <= words and chunk[0].isupper() and chunk.endswith(".") and upper < 0.2:
                    out.append(chunk)
                run = []
            if sent:
                run.append(sent)
    return out
