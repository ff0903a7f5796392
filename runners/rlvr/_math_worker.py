"""A long-lived worker that answers `verify(gold, pred)` with math-verify, one JSON line per request.

Run by `runners.rlvr.mathcheck` as `python _math_worker.py` (a file, so that it imports nothing of
the project). Its own timeouts are off: math-verify implements them with SIGALRM, which fails off
the main thread; the parent kills this process when an answer takes too long.
"""

import json
import sys


def main() -> None:
    import logging

    logging.disable(logging.WARNING)  # math-verify warns on every call that its timeouts are off
    from math_verify import ExprExtractionConfig, LatexExtractionConfig, parse, verify

    configs = [LatexExtractionConfig(), ExprExtractionConfig()]
    print(json.dumps({"ready": True}), flush=True)
    for line in sys.stdin:
        req = json.loads(line)
        try:
            gold = parse(f"${req['gold']}$", extraction_config=configs, parsing_timeout=None)
            pred = parse(f"${req['pred']}$", extraction_config=configs, parsing_timeout=None)
            ok = bool(gold) and bool(pred) and bool(verify(gold, pred, timeout_seconds=None))
            out = {"ok": ok}
        except Exception as e:  # noqa: BLE001 - any failure of the library is an answer of "no"
            out = {"ok": False, "error": f"{type(e).__name__}: {e}"[:200]}
        print(json.dumps(out), flush=True)


if __name__ == "__main__":
    main()
