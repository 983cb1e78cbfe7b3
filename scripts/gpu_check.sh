#!/usr/bin/env bash
# GPU check (issue 12): the CUDA tests, then a short `quadfree bench taylor` on the device.
# Usage: DEVICE=cuda bash scripts/gpu_check.sh   (DEVICE=cpu: the same steps on the CPU,
# which skips the CUDA tests; a check of the script itself). Output: gpu_check/ (or $OUT_DIR).
# Designed to finish in under 8 minutes on one GPU; each step has its own time limit.
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
timeout 240 "$BIN/python" -m pytest -q -m cuda $CUDA_TESTS -p no:cacheprovider

# 2. a short bench: levels 4 and 5, N = M = 1e5 and 1e6, sweep at 1e5
SIZES=${SIZES:-1e5,1e6}
SWEEP_SIZE=${SWEEP_SIZE:-100000}
timeout 420 "$BIN/quadfree" bench taylor --json "$OUT_DIR/taylor_$DEVICE.json" \
    --device "$DEVICE" --quiet --levels 4,5 --sizes "$SIZES" --repeats 3 \
    --error-targets 4000 --timing-targets 2000 --sweep-size "$SWEEP_SIZE" \
    --sweep-error-targets 1000 > "$OUT_DIR/taylor_$DEVICE.log"
"$BIN/python" - "$OUT_DIR/taylor_$DEVICE.json" <<'PY'
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
echo "gpu_check: done; JSON in $OUT_DIR/"
