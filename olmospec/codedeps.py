"""The code a stage depends on, derived from its runner's imports (never listed by hand).

A stage runs `python -m runners.<kind>`; its DVC deps must include every repository file that command
executes, so that editing any of them reruns the stage and editing anything else does not. This
module reads `runners/<kind>.py` (or the package `runners/<kind>/`: its `__init__.py` and
`__main__.py`) with the `ast` module, never importing it (olmospec never imports runners), and
follows its `import` statements transitively through the repository's own packages (`runners`,
`olmospec`, `evals`):

- `import a.b.c` and `from a.b import c` execute `a/__init__.py`, `a/b/__init__.py` and
  `a/b/c.py` (or `a/b/c/__init__.py`); `from a.b import name` with `name` not a module executes
  the first two; relative imports resolve against the importing module's package;
- imports inside functions count too (heavy libraries are imported where used), except the body of
  a module-level `__getattr__` (PEP 562 lazy attributes, such as `olmospec/__init__.py`'s lazy
  public API, which a runner that imports `olmospec.ir` never triggers);
- a string constant that is exactly the dotted name of a repository module (`"runners.curation.fim"`
  passed to `importlib.import_module`) counts as an import of it;
- data files (`.json`, `.jsonl`, `.yaml`, `.yml`, `.txt`, `.csv`, `.j2`) inside an imported package
  of `runners` or `evals` (its folder, and its sub-folders that are not packages themselves) are
  deps too: stage code may read them (lm-eval task definitions, for example). The compiler's own
  data (`olmospec/grammar.lark`) is not: runners use only olmospec's pure-Python models and helpers.

Files are listed one by one, so `__pycache__` and other untracked files are never part of a hash.
"""

from __future__ import annotations

import ast
from functools import lru_cache
from pathlib import Path

PACKAGES = ("runners", "olmospec", "evals")
DATA_SUFFIXES = {".json", ".jsonl", ".yaml", ".yml", ".txt", ".csv", ".j2"}
DATA_PACKAGES = ("runners", "evals")  # packages whose folders may hold data files their code reads


def runner_files(root: Path, kind: str) -> list[str] | None:
    """Repository-relative paths of every file `python -m runners.<kind>` executes or reads, sorted;
    None when the runner does not exist under `root`."""
    root = Path(root)
    entry = _module_file(root, f"runners.{kind}")
    if entry is None:
        return None
    todo: list[tuple[str, Path]] = [(f"runners.{kind}", entry)]
    main = entry.with_name("__main__.py")
    if entry.name == "__init__.py" and main.exists():
        todo.append((f"runners.{kind}.__main__", main))
    for parent in _parents(f"runners.{kind}"):
        todo.append((parent, _module_file(root, parent)))
    seen: dict[Path, str] = {}
    while todo:
        name, path = todo.pop()
        if path is None or path in seen:
            continue
        seen[path] = name
        for dep in _imports(root, name, path):
            p = _module_file(root, dep)
            if p is not None and p not in seen:
                todo.append((dep, p))
    files = set(seen)
    for path, name in seen.items():
        if path.name == "__init__.py" and name.split(".")[0] in DATA_PACKAGES:
            files |= _data_files(path.parent)
    return sorted(p.relative_to(root).as_posix() for p in files)


def _parents(module: str) -> list[str]:
    parts = module.split(".")
    return [".".join(parts[:i]) for i in range(1, len(parts))]


def _module_file(root: Path, module: str) -> Path | None:
    base = root.joinpath(*module.split("."))
    if base.with_suffix(".py").is_file():
        return base.with_suffix(".py")
    if (base / "__init__.py").is_file():
        return base / "__init__.py"
    return None


def _imports(root: Path, module: str, path: Path) -> set[str]:
    """Repository modules that executing `module` (the file `path`) may execute, parents included."""
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found: set[str] = set()
    for kind, name, names in _statements(path, path.stat().st_mtime_ns):
        if kind == "import":
            targets = [name]
        elif kind == "from":
            targets = [name] + [f"{name}.{n}" for n in names]
        elif kind == "relative":
            level, rest = name
            anchor = package.split(".")[: len(package.split(".")) - (level - 1)] if package else []
            base = ".".join(anchor + ([rest] if rest else []))
            targets = [base] + [f"{base}.{n}" for n in names]
        else:  # a string constant naming a module
            targets = [name]
        for t in targets:
            if t and t.split(".")[0] in PACKAGES and _module_file(root, t) is not None:
                found.add(t)
                found.update(p for p in _parents(t) if _module_file(root, p) is not None)
    return found


@lru_cache(maxsize=4096)
def _statements(path: Path, _mtime: int) -> tuple:
    """(kind, name, imported names) for each import in the file; cached by modification time."""
    try:
        tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    except (SyntaxError, UnicodeDecodeError, OSError):
        return ()
    lazy = {id(n) for top in tree.body if isinstance(top, ast.FunctionDef) and top.name == "__getattr__"
            for n in ast.walk(top)}
    out = []
    for node in ast.walk(tree):
        if id(node) in lazy:
            continue
        if isinstance(node, ast.Import):
            out += [("import", a.name, ()) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            names = tuple(a.name for a in node.names if a.name != "*")
            if node.level:
                out.append(("relative", (node.level, node.module or ""), names))
            elif node.module:
                out.append(("from", node.module, names))
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value.split(".")[0] in PACKAGES \
                and node.value.replace(".", "").replace("_", "").isalnum():
            out.append(("string", node.value, ()))
    return tuple(out)


def _data_files(folder: Path) -> set[Path]:
    out: set[Path] = set()
    for p in folder.iterdir():
        if p.name.startswith(".") or p.name == "__pycache__":
            continue
        if p.is_file() and p.suffix in DATA_SUFFIXES:
            out.add(p)
        elif p.is_dir() and not (p / "__init__.py").exists():
            out |= _data_files(p)
    return out
