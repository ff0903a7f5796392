#!/usr/bin/env bash
# The GPU benchmark on the GPU machine, in one command from the project root (README.md here):
#
#   benchmarks/gpu/run.sh                     # everything; results JSON in $OUT (else benchmarks/gpu/results)
#   benchmarks/gpu/run.sh --only peak,train_1b --set train_1b.fused_optimizer=true --tag tuned
#
# Needs benchmarks/gpu/build/ from `python benchmarks/gpu/prepare.py` (run where olmospec is installed),
# carried with the working tree. Installs the carried wheels into a private folder (no registry there),
# puts the prepared stage outputs under runs/, checks that everything imports, then runs bench.py.
set -uo pipefail
cd "$(dirname "$0")/../.."
BUILD=benchmarks/gpu/build
if [ ! -d "$BUILD/wheels" ]; then
  echo "run.sh: no $BUILD/wheels: run 'python benchmarks/gpu/prepare.py' on a machine with olmospec, then carry $BUILD" >&2
  exit 2
fi
PY=${PYTHON:-python3}
SITE=${OLMOSPEC_SITE:-/tmp/olmospec-site}
"$PY" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target "$SITE" "$BUILD"/wheels/*.whl \
  || { echo "run.sh: installing the carried wheels failed" >&2; exit 2; }
export PYTHONPATH="$PWD:$SITE${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1 HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1
mkdir -p runs && cp -r "$BUILD"/runs/. runs/
"$PY" - <<'EOF' || { echo "run.sh: an import the benchmark needs failed (see above)" >&2; exit 2; }
import importlib
from importlib.metadata import version
for m in ("olmospec.ir.train", "runners.train.loop", "runners.generate.hf", "evals.stage", "lm_eval", "datasets"):
    importlib.import_module(m)
print("imports ok:", ", ".join(f"{d} {version(d)}" for d in ("torch", "transformers", "pydantic", "lm-eval",
                                                             "datasets", "pyarrow", "numpy")))
EOF
OUT_DIR=${OUT:-benchmarks/gpu/results}
exec "$PY" benchmarks/gpu/bench.py --out "$OUT_DIR" "$@"
