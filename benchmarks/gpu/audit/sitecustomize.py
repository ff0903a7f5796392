"""Records which top-level modules a Python process imported, for the wheel check of prepare.py.

Put this folder first on PYTHONPATH and set OLMOSPEC_IMPORT_AUDIT=DIR: every Python process then
writes DIR/<pid>.json at exit with its command line and the top-level modules in `sys.modules` (name and file).
Python imports `sitecustomize` by itself at start-up, so stage subprocesses are covered too.
"""

import atexit
import json
import os
import sys

_DIR = os.environ.get("OLMOSPEC_IMPORT_AUDIT")


def _dump() -> None:
    top = {}
    for name, mod in list(sys.modules.items()):
        if "." in name or name.startswith("_") or name in sys.stdlib_module_names:
            continue
        top[name] = getattr(mod, "__file__", None)
    with open(os.path.join(_DIR, f"{os.getpid()}.json"), "w") as f:
        json.dump({"argv": getattr(sys, "orig_argv", sys.argv), "modules": top}, f)


if _DIR:
    os.makedirs(_DIR, exist_ok=True)
    atexit.register(_dump)
