"""Hostile completions against the code sandbox. Each must end with reward 0 inside its limits,
stopped by the mechanism the sandbox claims for it (checked from the error the program saw), with
the host unaffected: no process left, no file outside the jail, no connection to a host listener.
A correct completion still gets reward 1. Controls with seccomp off show what the namespaces stop
on their own, and that the seccomp cases would otherwise have succeeded."""

import os
import socket
import time
import uuid
from pathlib import Path

import pytest

from runners.rlvr import sandbox
from runners.rlvr.verifiers import code_reward

try:
    sandbox.probe()
except sandbox.SandboxUnavailable as e:  # pragma: no cover - depends on the kernel
    pytest.skip(f"no sandbox on this machine: {e}", allow_module_level=True)

TESTS = ["assert add(1, 2) == 3", "assert add(2, 0) == 2"]
GOOD = "Here you go:\n```python\ndef add(a, b):\n    return a + b\n```"
SECRET = "olmospec-secret-" + uuid.uuid4().hex


def _jail_processes() -> list[int]:
    out = []
    for p in Path("/proc").iterdir():
        if p.name.isdigit():
            try:
                if b"/jail.py" in (p / "cmdline").read_bytes():
                    out.append(int(p.name))
            except OSError:
                pass
    return out


@pytest.fixture
def host(tmp_path, monkeypatch):
    """A host listener, a host secret, and the check that nothing leaked after the run."""
    monkeypatch.setenv("OLMOSPEC_API_KEY", SECRET)
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(4)
    listener.setblocking(False)
    marker = f"/tmp/olmospec-hostile-{uuid.uuid4().hex}"
    state = {"port": listener.getsockname()[1], "marker": marker, "dir": tmp_path}
    yield state
    try:
        listener.accept()
        connected = True
    except BlockingIOError:
        connected = False
    listener.close()
    assert not connected, "the host listener saw a connection"
    assert not Path(marker).exists(), "a file appeared outside the jail"
    assert list(tmp_path.iterdir()) == []
    assert _jail_processes() == [], "a sandboxed process outlived its run"


def _run(code: str, timeout: float = 4.0, seccomp: bool = True):
    t = time.perf_counter()
    res = sandbox.run_tests(code, TESTS, timeout=timeout, seccomp=seccomp)
    return res, time.perf_counter() - t


def _hostile(host) -> dict[str, tuple[str, str]]:
    """name -> (code, what the program must have seen); every program defines `add` only after
    its attack, so reward 1 would mean the attack worked."""
    m, port, d = host["marker"], host["port"], host["dir"]
    ok = "\ndef add(a, b):\n    return a + b\n"
    return {
        "fork_bomb": ("import os\nwhile True:\n    os.fork()" + ok, "Operation not permitted"),
        "thread": ("import threading\nthreading.Thread(target=print).start()" + ok, "can't start new thread"),
        "memory_bomb": ("x = bytearray(8 * 2**30)" + ok, "MemoryError"),
        "memory_creep": ("a = []\nwhile True:\n    a.append(' ' * 10**7)" + ok, "MemoryError"),
        "write_outside": (f"open({str(d / 'pwned')!r}, 'w').write('x')" + ok, "No such file or directory"),
        "write_system": ("open('/usr/pwned', 'w').write('x')" + ok, "Read-only file system"),
        "env_secret": ("import os, glob\nblob = str(os.environ) + ''.join(open(p, 'rb').read().decode('latin1') "
                       "for p in glob.glob('/proc/*/environ'))\nassert " + repr(SECRET) + " in blob" + ok,
                       "AssertionError"),
        "socket": (f"import socket\nsocket.create_connection(('127.0.0.1', {port}), timeout=1)" + ok,
                   "Operation not permitted"),
        "os_system": (f"import os\nassert os.system('touch {m}') == 0" + ok, "AssertionError"),
        "subprocess": (f"import subprocess\nsubprocess.run(['touch', {m!r}], check=True)" + ok,
                       "Operation not permitted"),
        "dunder_import": (f"__import__('os').execv('/usr/bin/touch', ['touch', {m!r}])" + ok,
                          "Operation not permitted"),
        "subclasses": ("w = [c for c in ().__class__.__base__.__subclasses__() if c.__name__ == '_wrap_close'][0]\n"
                       f"assert w.__init__.__globals__['system']('touch {m}') == 0" + ok, "AssertionError"),
    }


NAMES = ["fork_bomb", "thread", "memory_bomb", "memory_creep", "write_outside", "write_system", "env_secret",
         "socket", "os_system", "subprocess", "dunder_import", "subclasses"]


@pytest.mark.parametrize("name", NAMES)
def test_hostile_completion_gets_zero(host, name):
    code, seen = _hostile(host)[name]
    res, seconds = _run(code)
    assert res.passed == 0 and res.status == "ok", res
    assert seen in res.errors[0], res.errors
    assert SECRET not in " ".join(res.errors)
    assert seconds < 10
    assert code_reward(f"```python\n{code}\n```", TESTS) == 0.0


@pytest.mark.parametrize(("code", "status", "error"), [
    ("while True:\n    pass", "ok", "TestTimeout"),  # the per-test CPU timer
    ("while True:\n    try:\n        while True:\n            pass\n    except BaseException:\n        pass",
     "killed:SIGXCPU", ""),  # catches the timer: RLIMIT_CPU ends the process
    ("import time\ntime.sleep(3600)", "timeout", ""),  # no CPU used: the host's wall clock kills it
])
def test_infinite_loops_end_within_the_limits(host, code, status, error):
    # NOTE: CPU limits well below the wall-clock one, so that a busy machine (CPU time accruing
    # slower than wall time) still shows the CPU mechanisms, not the wall-clock fallback
    limits = sandbox.Limits(cpu_s=1, test_cpu_s=0.3)
    t = time.perf_counter()
    res = sandbox.run_tests(code + "\ndef add(a, b):\n    return a + b\n", TESTS, timeout=8.0, limits=limits)
    assert res.passed == 0
    assert res.status == status, res
    assert error in res.errors[0]
    assert time.perf_counter() - t < 12


def test_correct_completion_still_passes(host):
    assert code_reward(GOOD, TESTS) == 1.0
    assert code_reward(GOOD.replace("a + b", "a - b"), TESTS) == 0.5
    assert code_reward(GOOD.replace("a + b", "a - b"), TESTS, mode="all") == 0.0
    assert code_reward(GOOD, "assert add(2, 2) == 4") == 1.0


def test_early_exit_does_not_count_as_a_pass(host):
    res, _ = _run("import os\nos._exit(0)")
    assert res.passed == 0 and res.status == "no_result"


@pytest.mark.parametrize(("name", "seen"), [("socket", "Connection refused"),  # the jail's own loopback
                                            ("write_outside", "No such file or directory"),
                                            ("write_system", "Read-only file system"),
                                            ("env_secret", "AssertionError")])
def test_namespaces_stop_these_without_seccomp(host, name, seen):
    code, _ = _hostile(host)[name]
    res, _ = _run(code, seccomp=False)
    assert res.passed == 0 and seen in res.errors[0], res.errors


def test_without_seccomp_exec_would_have_worked(host):
    """The control that shows seccomp is what stops fork/exec: without it, `os.system` succeeds
    inside the jail (in its private /work, so the host still sees nothing)."""
    res, _ = _run("import os\nassert os.system('touch /work/x') == 0\ndef add(a, b):\n    return a + b\n",
                  seccomp=False)
    assert res.passed == 2, res


def test_no_environment_reaches_the_jail(host):
    # PWD comes from bwrap's --chdir, LC_CTYPE from Python's C-locale coercion
    res, _ = _run("import os\nassert set(os.environ) <= {'PATH', 'PWD', 'LC_CTYPE'}, sorted(os.environ)\n"
                  "def add(a, b):\n    return a + b\n")
    assert res.passed == 2, res.errors


def test_unavailable_namespaces_refuse_to_run(monkeypatch):
    """Where bwrap cannot build namespaces, nothing runs: a clear SandboxUnavailable."""
    sandbox.probe.cache_clear()
    monkeypatch.setattr(sandbox, "bwrap_path", lambda: "/usr/bin/false")
    try:
        with pytest.raises(sandbox.SandboxUnavailable, match="cannot create namespaces"):
            sandbox.run_tests("def add(a, b): return a + b", TESTS)
    finally:
        sandbox.probe.cache_clear()
        monkeypatch.undo()
        assert os.path.exists(sandbox.probe())
