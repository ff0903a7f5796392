"""Loading a spec file with its imports: `import "other.ospec"` inlines that file's blocks first.

A block with the same kind and name as an imported one refines it: its fields replace the earlier
ones and its nested blocks replace theirs, so a spec can import a common recipe and change what
differs. The rule, precisely: a file may refine a block only if every file that already defined or
refined it is imported by that file (directly or through its imports). So the importing file
refines whatever it imports, a library refines the libraries it imports, and two files neither of
which imports the other (two sibling imports) may not both define the same block: that is an error
at the second definition with the first as a note, never a silent "the later one wins".

A file imported twice (two files importing one common library) is read once. Import cycles are
errors that show the chain.
"""

from __future__ import annotations

from pathlib import Path

from olmospec import ast
from olmospec.errors import Diagnostics, Pos, SpecError
from olmospec.parser import parse_file


def load_items(path: str | Path, diags: Diagnostics, _sources: dict[str, str] | None = None) -> tuple[ast.Item, ...]:
    """Parse `path` and its imports; returns the merged top-level items."""
    return _Loader(diags, _sources).load(Path(path), ())


class _Loader:
    def __init__(self, diags: Diagnostics, sources: dict[str, str] | None):
        self.diags = diags
        self.sources = sources
        self.loaded: set[str] = set()
        self.closure: dict[str, set[str]] = {}  # file -> itself and every file it imports, transitively
        self.key_of: dict[str, str] = {}  # Pos.file -> resolved path
        self.touched: dict[int, dict[str, Pos]] = {}  # id(item) -> files that defined or refined it
        self.alive: list[ast.Item] = []  # keeps every item in `touched` alive, so no id is reused

    def load(self, p: Path, chain: tuple[str, ...]) -> tuple[ast.Item, ...]:
        key = str(p.resolve())
        self.loaded.add(key)
        self.closure[key] = {key}
        try:
            f = parse_file(p)
        except SpecError as e:
            self.diags.add(e)
            return ()
        if self.sources is not None:
            self.sources[str(p)] = f.source
        self.key_of[str(p)] = key
        imported: list[ast.Item] = []
        own: list[ast.Item] = []
        for item in f.items:
            if not (isinstance(item, ast.Section) and item.kind == "import"):
                own.append(item)
                continue
            if not isinstance(item.atom, ast.String) or item.body is not None:
                self.diags.error(item.pos, 'an import is: import "path/to/file.ospec"')
                continue
            target = p.parent / item.atom.value
            tkey = str(target.resolve())
            if tkey in chain + (key,):
                names = [Path(c).name for c in chain + (key, tkey)]
                self.diags.error(item.atom.pos, f"import cycle: {' -> '.join(names)}")
                continue
            if not target.exists():
                self.diags.error(item.atom.pos, f"imported file not found: {target}")
                continue
            if tkey not in self.loaded:
                imported.extend(self.load(target, chain + (key,)))
            self.closure[key] |= self.closure.get(tkey, {tkey})
        for item in own:
            self._touch(item, {key: _name_pos(item)})
        return self.merge(imported + own)

    def _touch(self, item: ast.Item, files: dict[str, Pos]) -> ast.Item:
        self.touched[id(item)] = files
        self.alive.append(item)
        return item

    def merge(self, items: list[ast.Item]) -> tuple[ast.Item, ...]:
        out: list[ast.Item] = []
        index: dict[tuple, int] = {}
        for item in items:
            k = _key(item)
            mine = self.touched.get(id(item), {})
            if k not in index or k[0] == "olmospec" or _same_file(out[index[k]], item):
                # a repeat within one file stays, so that resolve reports it as a duplicate
                index.setdefault(k, len(out))
                out.append(item)
                continue
            i = index[k]
            prev = out[i]
            theirs = self.touched.get(id(prev), {})
            knows = set().union(*(self.closure.get(f, {f}) for f in mine)) if mine else set()
            foreign = [f for f in theirs if f not in knows]
            if foreign:
                other = theirs[foreign[0]]
                what = f"'{item.key}' is set" if isinstance(item, ast.Assign) else f"{item.kind} '{_label(item)}' is defined"
                self.diags.add(SpecError(
                    _name_pos(item), f"{what} in two files that do not import each other: "
                    f"{_short(other)} and {_short(_name_pos(item))}",
                    "a file may only refine blocks of the files it imports: rename one, or import one "
                    "file from the other", notes=((other, "the other definition"),)))
                continue
            out[i] = self._touch(_refine(prev, item), {**theirs, **mine})
        return tuple(out)


def _refine(prev: ast.Item, item: ast.Item) -> ast.Item:
    if isinstance(item, ast.Section) and isinstance(prev, ast.Section) and item.body is not None \
            and prev.body is not None and isinstance(item.atom, ast.Name | type(None)):
        return ast.Section(prev.path, prev.atom, item.clauses or prev.clauses, merge(prev.body + item.body),
                           prev.pos, item.end_pos)
    return item


def _same_file(a: ast.Item, b: ast.Item) -> bool:
    return a.pos.file == b.pos.file


def _key(item: ast.Item) -> tuple:
    if isinstance(item, ast.Assign):
        return ("=", item.key)
    if isinstance(item.atom, ast.Number):  # a mix entry `web 76.1%`: keyed by its name
        return (item.kind, "#entry")
    atom = item.atom.name if isinstance(item.atom, ast.Name) else None
    return (item.kind, atom)


def _label(item: ast.Section) -> str:
    return item.name or item.kind


def _name_pos(item: ast.Item) -> Pos:
    if isinstance(item, ast.Section) and item.atom is not None:
        return item.atom.pos
    return item.pos


def _short(pos: Pos) -> str:
    return f"{pos.file}:{pos.line}" if pos.line else pos.file


def merge(items: tuple[ast.Item, ...]) -> tuple[ast.Item, ...]:
    """Merge items with the same key: later assignments win; later blocks refine earlier ones.
    Used for block bodies (whose owner the import rule above has already allowed to refine) and
    for single-file text.

    One-line statements without a name (`web 76.1%`, `dedup exact`) are keyed by kind and atom too,
    so a refinement can change a mix share by restating it.
    """
    out: list[ast.Item] = []
    index: dict[tuple, int] = {}
    for item in items:
        k = _key(item)
        if k in index and k[0] != "olmospec" and not _same_file(out[index[k]], item):
            out[index[k]] = _refine(out[index[k]], item)
        else:
            index.setdefault(k, len(out))
            out.append(item)
    return tuple(out)


def nowhere(file: str) -> Pos:
    return Pos(file, 0, 0)
