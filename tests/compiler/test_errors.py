"""Every user error: `file:line:col: error: message`, the source line and a caret, exit status 1,
all errors of a file in one run. Cases are files in errors/: `# expect: LINE:COL: MESSAGE` lines
give every error the file must produce (message as a prefix)."""

import re
import subprocess
import sys
from pathlib import Path

import pytest

from olmospec.api import load_spec
from olmospec.errors import SpecError, SpecErrors

HERE = Path(__file__).parent
CASES = sorted((HERE / "errors").glob("*.ospec"))
ROOT = HERE.parents[1]


def expectations(path: Path) -> list[tuple[int, int, str]]:
    out = []
    for line in path.read_text().splitlines():
        m = re.match(r"# expect: (\d+):(\d+): (.*)", line)
        if m:
            out.append((int(m.group(1)), int(m.group(2)), m.group(3)))
    return out


@pytest.mark.parametrize("case", CASES, ids=[c.stem for c in CASES])
def test_error_case(case):
    want = expectations(case)
    assert want, f"{case.name} has no '# expect:' line"
    with pytest.raises((SpecError, SpecErrors)) as info:
        load_spec(case)
    errs = info.value.errors if isinstance(info.value, SpecErrors) else [info.value]
    got = [(e.pos.line, e.pos.col, e.message) for e in errs]
    assert len(got) == len(want), f"expected {len(want)} errors, got {got}"
    for line, col, msg in want:
        assert any(g[0] == line and g[1] == col and g[2].startswith(msg) for g in got), f"missing {line}:{col}: {msg}; got {got}"


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
