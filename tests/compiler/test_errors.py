"""Every user error: `file:line:col: error: message`, the source line and a caret, exit status 1,
all errors of a file in one run. Cases are files in errors/: `# expect: LINE:COL: MESSAGE` lines
give every error the file must produce (message as a prefix), a `# note: LINE:COL` line after one
a note that error must carry, and `# warn: LINE:COL: MESSAGE` lines every warning."""

import re
import subprocess
import sys
from pathlib import Path

import pytest

from olmospec.api import load_spec, load_text
from olmospec.errors import SpecError, SpecErrors

HERE = Path(__file__).parent
CASES = sorted((HERE / "errors").glob("*.ospec"))
ROOT = HERE.parents[1]


def expectations(path: Path, tag: str = "expect") -> list[tuple[int, int, str, list[tuple[int, int]]]]:
    out: list = []
    for line in path.read_text().splitlines():
        m = re.match(rf"# {tag}: (\d+):(\d+): (.*)", line)
        if m:
            out.append((int(m.group(1)), int(m.group(2)), m.group(3), []))
        n = re.match(r"# note: (\d+):(\d+)$", line)
        if n and out and tag == "expect":
            out[-1][3].append((int(n.group(1)), int(n.group(2))))
    return out


def _match(want, got_errors, what):
    got = [(e.pos.line, e.pos.col, e.message, [(p.line, p.col) for p, _ in e.notes]) for e in got_errors]
    assert len(got) == len(want), f"expected {len(want)} {what}, got {got}"
    for line, col, msg, notes in want:
        hit = [g for g in got if g[0] == line and g[1] == col and g[2].startswith(msg)]
        assert hit, f"missing {line}:{col}: {msg}; got {got}"
        for note in notes:
            assert note in hit[0][3], f"{line}:{col}: missing note at {note}; got {hit[0][3]}"


@pytest.mark.parametrize("case", CASES, ids=[c.stem for c in CASES])
def test_error_case(case):
    want, warns = expectations(case), expectations(case, "warn")
    assert want or warns, f"{case.name} has no '# expect:' or '# warn:' line"
    if not want:
        _match(warns, load_spec(case).warnings, "warnings")
        return
    with pytest.raises((SpecError, SpecErrors)) as info:
        load_spec(case)
    errs = info.value.errors if isinstance(info.value, SpecErrors) else [info.value]
    _match(want, errs, "errors")
    _match(warns, getattr(info.value, "warnings", []), "warnings")


def test_cli_renders_position_source_line_and_caret():
    case = HERE / "errors" / "unknown_mix.ospec"
    r = subprocess.run([sys.executable, "-m", "olmospec.cli", "check", str(case)], capture_output=True, text=True,
                       cwd=ROOT, check=False)
    assert r.returncode == 1
    assert "Traceback" not in r.stderr
    lines = r.stderr.splitlines()
    assert lines[0].startswith(f"{case}:5:62: error: unknown mix or source or curation 'dolmino2'")
    assert lines[1].strip().startswith("5 | stage pretrain")
    assert lines[2].strip().endswith("^" * len("dolmino2"))


def test_cli_missing_file_is_an_error_not_a_traceback(tmp_path):
    r = subprocess.run([sys.executable, "-m", "olmospec.cli", "check", str(tmp_path / "nope.ospec")],
                       capture_output=True, text=True, cwd=ROOT, check=False)
    assert r.returncode == 1 and "Traceback" not in r.stderr and "file not found" in r.stderr


def test_import_cycle(tmp_path):
    (tmp_path / "a.ospec").write_text('import "b.ospec"\n')
    (tmp_path / "b.ospec").write_text('import "a.ospec"\n')
    with pytest.raises(SpecErrors) as info:
        load_spec(tmp_path / "a.ospec")
    assert "import cycle: a.ospec -> b.ospec -> a.ospec" in str(info.value)


def test_import_refines(tmp_path):
    (tmp_path / "lib.ospec").write_text('source web { path = "a.jsonl"  tokens = 1M }\n')
    (tmp_path / "main.ospec").write_text('import "lib.ospec"\nsource web { tokens = 2M }\n')
    exp = load_spec(tmp_path / "main.ospec")
    assert exp.base.sources["web"].tokens == 2_000_000
    assert exp.base.sources["web"].path.endswith("a.jsonl")


def test_diamond_import_reads_the_common_file_once(tmp_path):
    (tmp_path / "common.ospec").write_text('source a { path = "a.jsonl" }\n')
    (tmp_path / "b.ospec").write_text('import "common.ospec"\n')
    (tmp_path / "c.ospec").write_text('import "common.ospec"\n')
    (tmp_path / "main.ospec").write_text('import "b.ospec"\nimport "c.ospec"\n')
    assert set(load_spec(tmp_path / "main.ospec").base.sources) == {"a"}


def test_imported_paths_are_relative_to_their_own_file(tmp_path):
    (tmp_path / "lib").mkdir()
    (tmp_path / "lib/data.ospec").write_text('source a { path = "../data/a/*.jsonl" }\n')
    (tmp_path / "main.ospec").write_text('import "lib/data.ospec"\n')
    assert load_spec(tmp_path / "main.ospec").base.sources["a"].path == "data/a/*.jsonl"


def test_two_imported_files_defining_one_block_is_an_error_with_both_locations(tmp_path):
    (tmp_path / "a.ospec").write_text('source web { path = "a.jsonl" }\n')
    (tmp_path / "b.ospec").write_text('\nsource web { path = "b.jsonl" }\n')
    (tmp_path / "main.ospec").write_text('import "a.ospec"\nimport "b.ospec"\n')
    with pytest.raises(SpecErrors) as info:
        load_spec(tmp_path / "main.ospec")
    [err] = info.value.errors
    assert (Path(err.pos.file).name, err.pos.line, err.pos.col) == ("b.ospec", 2, 8)
    assert err.message.startswith("source 'web' is defined in two files that do not import each other: ")
    assert f"{tmp_path / 'a.ospec'}:1" in err.message
    [(note, _)] = err.notes
    assert (Path(note.file).name, note.line, note.col) == ("a.ospec", 1, 8)
    r = subprocess.run([sys.executable, "-m", "olmospec.cli", "check", str(tmp_path / "main.ospec")],
                       capture_output=True, text=True, cwd=ROOT, check=False)
    assert r.returncode == 1 and "= note: the other definition" in r.stderr and "Traceback" not in r.stderr


def test_refinement_rules_of_imports(tmp_path):
    """The importing file refines what it imports, a library what it imports; two libraries that
    both refine a block of a common one conflict, and so do two top-level settings."""
    (tmp_path / "common.ospec").write_text('source web { path = "w.jsonl"  tokens = 1M }\n')
    (tmp_path / "b.ospec").write_text('import "common.ospec"\nsource web { tokens = 2M }\n')
    (tmp_path / "c.ospec").write_text('import "common.ospec"\nsource code { path = "c.jsonl" }\n')
    (tmp_path / "main.ospec").write_text('import "b.ospec"\nimport "c.ospec"\nsource web { docs = 5 }\n')
    web = load_spec(tmp_path / "main.ospec").base.sources["web"]
    assert (web.tokens, web.docs, web.path) == (2_000_000, 5, "w.jsonl")
    (tmp_path / "c.ospec").write_text('import "common.ospec"\nsource web { tokens = 3M }\n')
    with pytest.raises(SpecErrors, match="source 'web' is defined in two files"):
        load_spec(tmp_path / "main.ospec")
    (tmp_path / "b.ospec").write_text("seeds = [1, 2]\n")
    (tmp_path / "c.ospec").write_text("seeds = [3]\n")
    (tmp_path / "main.ospec").write_text('import "b.ospec"\nimport "c.ospec"\n')
    with pytest.raises(SpecErrors, match="'seeds' is set in two files that do not import each other"):
        load_spec(tmp_path / "main.ospec")


def test_check_warns_on_sources_that_match_no_file_and_strict_fails(tmp_path):
    (tmp_path / "data").mkdir()
    (tmp_path / "data/a.jsonl").write_text('{"id": "1", "text": "x"}\n')
    spec = tmp_path / "s.ospec"
    spec.write_text('source a { path = "data/*.jsonl" }\nsource b { path = "data/b/*.jsonl" }\n'
                    'source c { path = "s3://bucket/x/*.jsonl" }\n')
    r = subprocess.run([sys.executable, "-m", "olmospec.cli", "check", str(spec)], capture_output=True, text=True,
                       cwd=tmp_path, check=False)
    assert r.returncode == 0, r.stderr
    assert f"{spec}:2:19: warning: source 'b': 'data/b/*.jsonl' matches no file" in r.stderr
    assert "source 'a'" not in r.stderr and "source 'c'" not in r.stderr
    assert "ok (1 variants, 3 stages, 1 warning(s))" in r.stdout
    s = subprocess.run([sys.executable, "-m", "olmospec.cli", "check", "--strict", str(spec)], capture_output=True,
                       text=True, cwd=tmp_path, check=False)
    assert s.returncode == 1 and f"{spec}:2:19: error: source 'b'" in s.stderr and "1 error" in s.stderr


@pytest.mark.parametrize("edit, cycle", [
    (("curate web from web_raw", "curate web from web"), "curation cycle: web -> web"),
    (("curate web from web_raw", "curate web from math_clean"), "curation cycle: web -> math_clean -> web"),
])
def test_curation_cycle_is_an_error_not_a_recursion(edit, cycle):
    """A curation that reads itself through `from` (directly or via another) is reported at its
    `from` clause; the token checks that walk curations stop at the cycle."""
    text = (ROOT / "specs/tiny.ospec").read_text()
    text = text.replace(*edit).replace("curate math_clean from math_mid", "curate math_clean from web")
    with pytest.raises(SpecErrors) as info:
        load_text(text, "cyc.ospec")
    assert cycle in str(info.value)
