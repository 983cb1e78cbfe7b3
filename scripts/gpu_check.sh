#!/usr/bin/env bash
# GPU check (issue 12): the CUDA tests, then a short `quadfree bench taylor` on the device.
# Usage: DEVICE=cuda bash scripts/gpu_check.sh   (DEVICE=cpu: the same steps on the CPU,
# which skips the CUDA tests; a check of the script itself). Output: gpu_check/ (or $OUT_DIR).
# Designed to finish in under 8 minutes on one GPU: each step has its own time limit
# (120 + 150 + 200 s). Give the whole call at least 9 minutes.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${BIN:-.venv/bin}
DEVICE=${DEVICE:-cuda}
OUT_DIR=${OUT_DIR:-gpu_check}
mkdir -p "$OUT_DIR"

"$BIN/python" - "$DEVICE" <<'PY'
import sys, torch
dev = sys.argv[1]
print(f"torch {torch.__version__}, CUDA available: {torch.cuda.is_available()}")
if dev.startswith("cuda"):
    if not torch.cuda.is_available():
        sys.exit(f"gpu_check: DEVICE={dev} but torch sees no CUDA device "
                 f"(torch {torch.__version__} is a CPU build or no driver)")
    print("GPU:", torch.cuda.get_device_name(torch.device(dev)))
PY

# 1. the CUDA tests (skipped on a CPU-only machine)
# (only the files that hold them, so that optional application dependencies need not be there)
CUDA_TESTS=$(grep -rl "mark.cuda" tests)
timeout 120 "$BIN/python" -m pytest -q -m cuda $CUDA_TESTS -p no:cacheprovider \
    || echo "gpu_check: CUDA tests failed or ran past 120 s"

# 2. a short bench in two parts, each under its own limit and writing its own JSON, so that a
#    slow part cannot take the other's figures with it (the whole script stays under 8 min):
#    (a) N = M = 1e5 with the width sweep, (b) N = M = 1e6 with a one-width sweep.
bench() {   # bench NAME LIMIT_S SIZES SWEEP SWEEP_SIZE
    timeout "$2" "$BIN/quadfree" bench taylor --json "$OUT_DIR/taylor_${DEVICE}_$1.json" \
        --device "$DEVICE" --quiet --levels 4,5 --sizes "$3" --repeats 3 \
        --error-targets 2000 --timing-targets 2000 --sweep "$4" --sweep-size "$5" \
        --sweep-error-targets 500 > "$OUT_DIR/taylor_${DEVICE}_$1.log" 2>&1 \
        || echo "gpu_check: bench part $1 failed or ran past $2 s (see its log)"
}
bench 1e5 150 "${SIZES_SMALL:-1e5}" "0.015625,0.0625,0.25,0.5,1,2" "${SWEEP_SIZE:-100000}"
bench 1e6 200 "${SIZES_LARGE:-1e6}" "0.5" 10000
for part in 1e5 1e6; do
    [ -f "$OUT_DIR/taylor_${DEVICE}_$part.json" ] || continue
"$BIN/python" - "$OUT_DIR/taylor_${DEVICE}_$part.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
print("device:", r["machine"]["device"], r["machine"].get("gpu", ""))
print(f"{'level':>5} {'N':>8} {'expand_s':>9} {'eval_s':>8} {'rel_err':>8} {'neigh_s':>8} {'x neigh':>8}")
for x in r["rows"]:
    print(f"{x['level']:>5} {x['n']:>8} {x['expand_s']:9.4f} {x['eval_s']:8.4f} "
          f"{x['rel_error']:8.1e} {x['neighbour_s']:8.4f} {x['speedup_vs_neighbour']:8.1f}")
for x in r["alpha_sweep"]:
    print(f"sweep a*h^2={x['alpha_h2']:.4g}: auto={x['auto_method']} {x['auto_s']:.4f}s "
          f"fc2t2 {x['expand_s'] + x['eval_s']:.4f}s neighbour {x['neighbour_s']:.4f}s")
PY
done
echo "gpu_check: done; JSON in $OUT_DIR/"
