"""Loading a spec file with its imports: `import "other.ospec"` inlines that file's blocks first.

A later block with the same kind and name as an earlier (imported) one refines it: its fields
replace the earlier ones and its nested blocks replace theirs, so a spec can import a common recipe
and change what differs. Import cycles are errors that show the chain.
"""

from __future__ import annotations

from pathlib import Path

from olmospec import ast
from olmospec.errors import Diagnostics, Pos, SpecError
from olmospec.parser import parse_file


def load_items(path: str | Path, diags: Diagnostics, _chain: tuple[str, ...] = (),
               _sources: dict[str, str] | None = None, _loaded: set[str] | None = None) -> tuple[ast.Item, ...]:
    """Parse `path` and its imports; returns the merged top-level items. A file imported twice (two
    files importing one common library) is read once."""
    p = Path(path)
    key = str(p.resolve())
    loaded = set() if _loaded is None else _loaded
    loaded.add(key)
    try:
        f = parse_file(p)
    except SpecError as e:
        diags.add(e)
        return ()
    if _sources is not None:
        _sources[str(p)] = f.source
    items: list[ast.Item] = []
    for item in f.items:
        if isinstance(item, ast.Section) and item.kind == "import":
            if not isinstance(item.atom, ast.String) or item.body is not None:
                diags.error(item.pos, 'an import is: import "path/to/file.ospec"')
                continue
            target = (p.parent / item.atom.value)
            tkey = str(target.resolve())
            if tkey in _chain + (key,):
                names = [Path(c).name for c in _chain + (key, tkey)]
                diags.error(item.atom.pos, f"import cycle: {' -> '.join(names)}")
                continue
            if not target.exists():
                diags.error(item.atom.pos, f"imported file not found: {target}")
                continue
            if tkey in loaded:
                continue
            items.extend(load_items(target, diags, _chain + (key,), _sources, loaded))
        else:
            items.append(item)
    return merge(tuple(items))


def _key(item: ast.Item) -> tuple:
    if isinstance(item, ast.Assign):
        return ("=", item.key)
    atom = item.atom.name if isinstance(item.atom, ast.Name) else None
    return (item.kind, atom)


def merge(items: tuple[ast.Item, ...]) -> tuple[ast.Item, ...]:
    """Merge items with the same key: later assignments win; later blocks refine earlier ones.

    One-line statements without a name (`web 76.1%`, `dedup exact`) are keyed by kind and atom too,
    so a refinement can change a mix share by restating it.
    """
    out: list[ast.Item] = []
    index: dict[tuple, int] = {}
    for item in items:
        k = _key(item)
        if isinstance(item, ast.Section) and isinstance(item.atom, ast.Number):
            k = (item.kind, "#entry")
        # Only a block from another (importing) file refines; a repeat within one file stays, so that
        # resolve reports it as a duplicate instead of silently keeping the last one.
        if k in index and k[0] != "olmospec" and out[index[k]].pos.file != item.pos.file:
            i = index[k]
            prev = out[i]
            if isinstance(item, ast.Section) and isinstance(prev, ast.Section) and item.body is not None \
                    and prev.body is not None and isinstance(item.atom, ast.Name | type(None)):
                out[i] = ast.Section(prev.path, prev.atom, item.clauses or prev.clauses,
                                     merge(prev.body + item.body), prev.pos, item.end_pos)
            else:
                out[i] = item
        else:
            index[k] = len(out)
            out.append(item)
    return tuple(out)


def nowhere(file: str) -> Pos:
    return Pos(file, 0, 0)
