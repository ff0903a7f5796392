"""The program that runs INSIDE the sandbox (bubblewrap namespaces): limits, seccomp, then the code.

Started by `runners.rlvr.sandbox` as `python -I -S -B /jail.py` with nothing but the standard
library. It reads one JSON request from stdin: the code, its tests, the limits, a compiled seccomp
filter (classic BPF, built on the host with libseccomp) and a nonce. In this order it:
sets the resource limits (CPU, address space, file size, open files, processes), installs the
seccomp filter (no fork, clone, exec, sockets, ptrace, mounts, namespaces, io_uring, ...; NO_NEW_PRIVS
first, so it can never be lifted), then runs each test as `code + test` in a fresh namespace with a
per-test CPU-time alarm (ITIMER_PROF), and writes one result line that starts with the nonce to a private copy of
stdout. Output of the code itself goes to a bounded buffer, not to the host.
"""

import ctypes
import io
import json
import os
import resource
import signal
import sys

PR_SET_NO_NEW_PRIVS, PR_SET_SECCOMP, SECCOMP_MODE_FILTER = 38, 22, 2


class _Fprog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]


def install_seccomp(bpf: bytes) -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    buf = ctypes.create_string_buffer(bpf, len(bpf))
    prog = _Fprog(len(bpf) // 8, ctypes.cast(buf, ctypes.c_void_p))
    if libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(NO_NEW_PRIVS)")
    if libc.prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, ctypes.byref(prog), 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(SECCOMP)")


def set_limits(lim: dict) -> None:
    cpu = int(lim["cpu_s"])
    resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 1))
    resource.setrlimit(resource.RLIMIT_AS, (lim["memory_bytes"],) * 2)
    resource.setrlimit(resource.RLIMIT_FSIZE, (lim["file_bytes"],) * 2)
    resource.setrlimit(resource.RLIMIT_NOFILE, (lim["open_files"],) * 2)
    resource.setrlimit(resource.RLIMIT_NPROC, (lim["processes"],) * 2)
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))


class TestTimeout(BaseException):
    pass


def _alarm(signum, frame):
    raise TestTimeout("test exceeded its time limit")


def main() -> None:
    req = json.loads(sys.stdin.read())
    result = os.fdopen(os.dup(1), "w")  # the only channel back; fd 1 itself goes to /dev/null
    devnull = os.open("/dev/null", os.O_WRONLY)
    os.dup2(devnull, 1)
    os.dup2(devnull, 2)
    os.close(devnull)
    nonce = req.pop("nonce")
    set_limits(req["limits"])
    if req["seccomp"]:
        install_seccomp(bytes.fromhex(req["seccomp"]))
    signal.signal(signal.SIGPROF, _alarm)
    passed, errors = [], []
    for test in req["tests"]:
        sys.stdout = sys.stderr = io.StringIO()
        ok, err = False, ""
        signal.setitimer(signal.ITIMER_PROF, req["limits"]["test_cpu_s"])
        try:
            exec(compile(req["code"] + "\n\n" + test, "<solution>", "exec"), {"__name__": "__main__"})  # noqa: S102 - the jail
            ok = True
        except BaseException as e:  # noqa: BLE001 - every failure of the code is a failed test
            err = f"{type(e).__name__}: {e}"[:300]
        finally:
            signal.setitimer(signal.ITIMER_PROF, 0)
        passed.append(ok)
        errors.append(err)
    result.write(nonce + json.dumps({"passed": passed, "errors": errors}) + "\n")
    result.flush()
    os._exit(0)


main()
