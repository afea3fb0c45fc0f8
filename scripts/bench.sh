#!/usr/bin/env bash
# Builds torchpool and runs the benchmark beside torch.nn (the table of BENCHMARKS.md).
# Arguments go to benchmarks/bench.py, e.g. --markdown BENCHMARKS-table.md or --quick.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
bash scripts/setup.sh
"$PY" -m pip install -q --no-build-isolation .
"$PY" -m torchpool
"$PY" benchmarks/bench.py "$@"
