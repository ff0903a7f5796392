"""`olmospec run`'s view of `dvc repro`: a line per stage saying where the run stands, the runners'
own output indented under it, DVC's routine notices hidden, and a summary at the end.

`dvc repro` runs as a child; its output (stdout and stderr, in order) is read as it comes.
`Running stage '<id>':` starts a stage and prints

    [13/57] rlvr (rlvr; spurious_reward@seed2)  6m12s elapsed, about 8m30s left

(the estimate is olmospec/estimate.py's); the runner's lines follow, indented, then `done in 2m03s`.
Stages DVC skips as up to date are counted and shown as one line per run of them. Hidden, because
they are not news: DVC's warnings that an output file is empty (`rejects.jsonl` with no rejects),
its lock-file notices, the echoed stage command, the closing git/push hints and blank lines.
Everything else DVC prints is shown; its `ERROR:` lines are repeated at the end, after the failing
stage's output (all of it with `--quiet`, which shows no runner output while the stage runs).

On a terminal a progress bar's carriage-return updates redraw in place; in a log (not a terminal)
or with `--quiet` output stays line-oriented: a bar is printed once when it finishes, plus its state
every 30 s while it runs.
"""

from __future__ import annotations

import codecs
import os
import re
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from olmospec import code_stage
from olmospec.estimate import WALL_KEYS, Estimator, duration

RUNNING = re.compile(r"^Running stage '(.+)':$")
SKIPPED = re.compile(r"^(?:Stage )?'(.+)' didn't change, skipping$")
CACHED = re.compile(r"^Stage '(.+)' is cached - skipping run, checking out outputs$")
EMPTY = re.compile(r"^WARNING: '.*' is empty\.$")
NOISE = [re.compile(p) for p in (
    r"^(?:Generating|Updating) lock file '.*'$",
    r"^> .*stages/python -m (?:runners|olmospec\.code_stage)\b",  # DVC echoing the stage command
    r"^To track the changes with git, run:$",
    r"^To enable auto staging, run:$",
    r"^Use `dvc push` to send your updates to remote storage\.$",
    r"^Data and pipelines are up to date\.$",
)]
HINT_LINE = re.compile(r"^\s+(?:git add |dvc config core\.autostage)")  # the lines under those hints
INDENT = "    "
TICK = 30.0  # seconds between a running progress bar's lines in a log


class Splitter:
    """Text as it arrives -> ("line", text) per finished line, ("update", text) per carriage-return
    update of a line (progress bars); `pending` is what has arrived of the current one."""

    def __init__(self):
        self.buf = ""
        self.redrawn = False  # the current line has had a carriage return: it is a progress display

    def feed(self, text: str) -> list[tuple[str, str]]:
        self.buf += text
        out = []
        while True:
            cut = [i for i in (self.buf.find("\n"), self.buf.find("\r")) if i >= 0]
            if not cut:
                return out
            i = min(cut)
            if self.buf[i] == "\r" and i == len(self.buf) - 1:
                return out  # perhaps "\r\n": wait for the next character
            seg, rest = self.buf[:i], self.buf[i + 1:]
            if self.buf[i] == "\n" or rest.startswith("\n"):
                out.append(("line", seg))
                rest = rest[1:] if self.buf[i] == "\r" else rest
                self.redrawn = False
            else:
                if seg:
                    out.append(("update", seg))
                self.redrawn = True
            self.buf = rest

    @property
    def pending(self) -> str:
        """What has arrived of a progress display's current state ("" for an ordinary line)."""
        return self.buf.rstrip("\r") if self.redrawn else ""

    def close(self) -> list[tuple[str, str]]:
        rest, self.buf = self.buf.rstrip("\r"), ""
        return [("line", rest)] if rest else []


@dataclass
class Running:
    id: str
    started: float
    lines: list[str] = field(default_factory=list)


class View:
    """Turns `dvc repro`'s output into olmospec's lines (see the module docstring)."""

    def __init__(self, nodes: dict, targets: list[str], estimator: Estimator, expected: set[str], *,
                 quiet: bool = False, tty: bool = False, out=None, root: Path | None = None, variants: int = 0):
        self.nodes, self.estimator, self.expected = nodes, estimator, set(expected)
        self.targets = targets
        self.total = len(targets)
        self.quiet, self.tty = quiet, tty
        self.out = out or sys.stdout
        self.root = Path(root or ".")
        self.variants = variants
        self.t0 = time.monotonic()
        self.seen: set[str] = set()
        self.current: Running | None = None
        self.ran: list[tuple[str, float]] = []
        self.skipped: list[str] = []
        self.cached: list[str] = []
        self.pending_skips: list[int] = []  # the stage numbers of skipped stages not yet shown
        self.errors: list[str] = []
        self.hidden = 0
        self.in_hint = False
        self.open_update = False  # a carriage-return line is on the terminal
        self.last_tick = 0.0
        self.width = shutil.get_terminal_size((100, 20)).columns if tty else 0

    # -- output ---------------------------------------------------------------------------------
    def _write(self, text: str) -> None:
        if self.open_update:  # the finished line replaces what was drawn of it
            self.out.write("\r\x1b[K")
            self.open_update = False
        self.out.write(text + "\n")
        self.out.flush()

    def _redraw(self, text: str) -> None:
        text = (INDENT + text)[: max(self.width - 1, 20)]
        self.out.write("\r" + text + "\x1b[K")
        self.out.flush()
        self.open_update = True

    # -- events ---------------------------------------------------------------------------------
    def feed(self, events: list[tuple[str, str]], pending: str = "") -> None:
        for kind, text in events:
            if kind == "line":
                self.line(text)
            else:
                self.update(text)
        if pending and self.tty and not self.quiet and self.current is not None:
            self._redraw(pending)

    def line(self, text: str) -> None:
        m = RUNNING.match(text) or SKIPPED.match(text) or CACHED.match(text)
        sid = _stage_id(m.group(1)) if m else ""
        if sid not in self.nodes and sid.startswith(code_stage.PREFIX):  # hashing a runner's code: not news
            return self._finish()
        m = RUNNING.match(text)
        if m:
            return self._start(_stage_id(m.group(1)))
        m = SKIPPED.match(text) or CACHED.match(text)
        if m:
            return self._skip(_stage_id(m.group(1)), cached=text.startswith("Stage") and "is cached" in text)
        if EMPTY.match(text) or any(p.match(text) for p in NOISE) or not text.strip() \
                or (self.in_hint and HINT_LINE.match(text)):
            self.in_hint = self.in_hint or text.startswith("To ")
            self.hidden += EMPTY.match(text) is not None
            return
        self.in_hint = False
        if text.startswith("ERROR:"):
            self.errors.append(text)
            return
        if self.current is None:
            self._write(text)
            return
        self.current.lines.append(text)
        if not self.quiet or text.startswith("WARNING:"):
            self._write(INDENT + text)

    def update(self, text: str) -> None:
        if self.quiet or self.current is None:
            return
        if self.tty:
            self._redraw(text)
        elif time.monotonic() - self.last_tick >= TICK:
            self.last_tick = time.monotonic()
            self._write(INDENT + text)

    def _number(self, sid: str) -> int | None:
        if sid in self.seen:
            return None
        self.seen.add(sid)
        return len(self.seen)

    def _start(self, sid: str) -> None:
        self._finish()
        i = self._number(sid)
        self._show_skips()
        if sid not in self.expected:  # DVC found it out of date: it and what follows from it will run
            self.expected |= {sid} | _downstream(self.nodes, sid, set(self.targets))
        left = [s for s in self.targets if s in self.expected and s not in dict(self.ran)]
        secs, unknown = self.estimator.remaining(left)
        est = (f"about {duration(secs)} left" if secs or not unknown else "") + \
              (f"{', ' if secs else ''}{unknown} stage(s) not estimated yet" if unknown else "")
        n = self.nodes.get(sid)
        what = f"{n.label} ({n.kind}{self._variants(n)})" if n else sid
        self._write(f"[{i or '?'}/{self.total}] {what}  {duration(time.monotonic() - self.t0)} elapsed"
                    + (f", {est}" if est else ""))
        self.current = Running(sid, time.monotonic())
        self.last_tick = time.monotonic()

    def _variants(self, n) -> str:
        vs = list(getattr(n, "variants", []))
        if not vs or len(vs) >= self.variants:
            return ""
        return "; " + (", ".join(vs) if len(vs) <= 2 else f"{vs[0]} and {len(vs) - 1} other variants")

    def _skip(self, sid: str, cached: bool) -> None:
        self._finish()
        i = self._number(sid)
        if i is None:
            return
        self.expected.discard(sid)
        (self.cached if cached else self.skipped).append(sid)
        self.pending_skips.append(i)

    def _show_skips(self) -> None:
        if not self.pending_skips:
            return
        a, b = self.pending_skips[0], self.pending_skips[-1]
        k = len(self.pending_skips)
        where = f"[{a}/{self.total}]" if k == 1 else f"[{a}-{b}/{self.total}]"
        self._write(f"{where} {k} stage(s) up to date")
        self.pending_skips = []

    def _finish(self, failed: bool = False) -> None:
        cur = self.current
        if cur is None:
            return
        secs = time.monotonic() - cur.started
        self.current = None
        if failed:
            self._write(f"{INDENT}failed after {duration(secs)}")
            return
        self.ran.append((cur.id, secs))
        self.estimator.finished(cur.id, secs, _receipt_seconds(self.root, cur.id, time.time() - secs))
        self._write(f"{INDENT}done in {duration(secs)}")

    # -- the end --------------------------------------------------------------------------------
    def close(self, rc: int, err=None) -> None:
        err = err or sys.stderr
        failed = self.current if rc != 0 else None
        self._finish(failed=failed is not None)
        self._show_skips()
        total = time.monotonic() - self.t0
        head = "finished" if rc == 0 else "stopped"
        parts = [f"{len(self.ran)} stage(s) run", f"{len(self.skipped)} up to date"]
        if self.cached:
            parts.append(f"{len(self.cached)} restored from the run cache")
        self._write(f"{head}: {', '.join(parts)}; {duration(total)} in all")
        by_kind: dict[str, list[float]] = {}
        for sid, secs in self.ran:
            by_kind.setdefault(getattr(self.nodes.get(sid), "kind", "?"), []).append(secs)
        if by_kind:
            width = max(len(k) for k in by_kind)
            self._write(f"  {'kind'.ljust(width)}  stages  time")
            for k, ts in sorted(by_kind.items(), key=lambda kv: -sum(kv[1])):
                self._write(f"  {k.ljust(width)}  {len(ts):6d}  {duration(sum(ts))}")
        if self.hidden and not self.quiet:
            self._write(f"  ({self.hidden} DVC warning(s) that an output is empty hidden)")
        if rc != 0:
            self._failure(failed, err)

    def _failure(self, failed: Running | None, err) -> None:
        self.out.flush()
        if failed is not None:
            n = self.nodes.get(failed.id)
            what = f"{failed.id} ({n.kind})" if n else failed.id
            shown = failed.lines if self.quiet or len(failed.lines) <= 40 else failed.lines[-40:]
            more = "" if len(shown) == len(failed.lines) else f" (last 40 of {len(failed.lines)} lines; all above)"
            err.write(f"stage {what} failed; its output{more}:\n")
            err.writelines(f"{INDENT}{line}\n" for line in shown)
        err.writelines(f"{line}\n" for line in self.errors)
        err.flush()


def _stage_id(address: str) -> str:
    """`pipelines/x/dvc.yaml:pretrain-0a37314b` or `pretrain-0a37314b` -> `pretrain-0a37314b`."""
    return address.rsplit(":", 1)[-1]


def _downstream(nodes: dict, sid: str, within: set[str]) -> set[str]:
    out: set[str] = set()
    todo = [sid]
    while todo:
        cur = todo.pop()
        for n in nodes.values():
            if cur in n.upstream and n.id in within and n.id not in out:
                out.add(n.id)
                todo.append(n.id)
    return out


def _receipt_seconds(root: Path, sid: str, since: float) -> float | None:
    """The runner's own time from the receipt it just wrote (None if it wrote none this time)."""
    import json

    p = root / "runs" / sid / "receipt.json"
    try:
        if p.stat().st_mtime + 1 < since:
            return None
        r = json.loads(p.read_text(encoding="utf-8"))
        return float(next(r[k] for k in WALL_KEYS if k in r))
    except (OSError, ValueError, StopIteration, TypeError, AttributeError):
        return None


def repro(cmd: list[str], root: Path, env: dict, view: View) -> int:
    """Run `dvc repro` (cmd) under `view`; its exit status: 0, 1 on failure, 130 when interrupted."""
    proc = subprocess.Popen(cmd, cwd=root, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
    split = Splitter()
    fd = proc.stdout.fileno()
    try:
        while True:
            chunk = os.read(fd, 65536)
            if not chunk:
                break
            view.feed(split.feed(decoder.decode(chunk)), split.pending)
        view.feed(split.feed(decoder.decode(b"", final=True)) + split.close())
        rc = proc.wait()
    except KeyboardInterrupt:
        # the terminal sent SIGINT to dvc too; give it time to stop its stage cleanly
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        view.close(130)
        print("interrupted", file=sys.stderr)
        return 130
    view.close(rc)
    return 0 if rc == 0 else 1
