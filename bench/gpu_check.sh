#!/usr/bin/env bash
# The GPU check, in one command: the CUDA tests, training throughput, the data side, ten minutes of the
# full learning loop and the solve figures it gives. Run it as is on a machine with an NVIDIA GPU:
#
#     bench/gpu_check.sh [OUT_DIR]            # default runs/gpu_check-DATE; about 30 minutes
#     SHORT=1 bench/gpu_check.sh [OUT_DIR]    # the same steps smaller: about 12 minutes
#
# Everything goes under OUT_DIR (one log per step, JSON figures, summary.md). It stops at the first
# failing step (set -euo pipefail) and says which. It installs nothing beyond `pip install -e .[test]`,
# and only when the project is not importable. Knobs (environment): PY (python; default .venv/bin/python
# if present), DEVICE (cuda; `DEVICE=cpu` with tiny sizes is a dry run of the script itself),
# TRAIN_SECONDS (420), DB_SIZE (50000), SOLVE_BUDGET (3), SOLVE_TASKS (40), SOLVE_MNIST (40),
# BENCH_SECONDS (12), BATCH_SIZES (512,1024,2048,4096), MODES (fp32,bf16,bf16+compile),
# PAIRS_SECONDS (5), SOLVE_LIMIT (10: bench/solve.py targets per set); SHORT=1 changes the defaults to
# TRAIN_SECONDS=240 DB_SIZE=20000 SOLVE_TASKS=16 SOLVE_MNIST=16 BENCH_SECONDS=6 BATCH_SIZES=1024,4096
# SOLVE_LIMIT=4 and bench/solve.py's arms to model,none. Extra flags: TRAIN_BENCH_ARGS, PAIRS_BENCH_ARGS,
# RUN_ARGS, SOLVE_ARGS.
set -Eeuo pipefail
cd "$(dirname "$0")/.."
OUT=${1:-runs/gpu_check-$(date +%Y%m%d-%H%M%S)}
DEVICE=${DEVICE:-cuda}
if [ -z "${PY:-}" ]; then
  if [ -x .venv/bin/python ]; then PY=.venv/bin/python; else PY=python3; fi
fi
if [ "${SHORT:-0}" = 1 ]; then
  : "${TRAIN_SECONDS:=240}" "${DB_SIZE:=20000}" "${SOLVE_TASKS:=16}" "${SOLVE_MNIST:=16}" "${BENCH_SECONDS:=6}"
  : "${BATCH_SIZES:=1024,4096}" "${SOLVE_LIMIT:=4}" "${SOLVE_ARGS:=--arms model,none}"
fi
TRAIN_SECONDS=${TRAIN_SECONDS:-420}
DB_SIZE=${DB_SIZE:-50000}
SOLVE_BUDGET=${SOLVE_BUDGET:-3}
SOLVE_TASKS=${SOLVE_TASKS:-40}
SOLVE_MNIST=${SOLVE_MNIST:-40}
BENCH_SECONDS=${BENCH_SECONDS:-12}
BATCH_SIZES=${BATCH_SIZES:-512,1024,2048,4096}
MODES=${MODES:-fp32,bf16,bf16+compile}
PAIRS_SECONDS=${PAIRS_SECONDS:-5}
SOLVE_LIMIT=${SOLVE_LIMIT:-10}
mkdir -p "$OUT"
STEP=setup
trap 'echo "gpu_check: FAILED at step \"$STEP\"; see $OUT/$STEP.log" >&2' ERR

step() {   # step NAME COMMAND...: run COMMAND, its output to the terminal and to OUT/NAME.log
  STEP=$1; shift
  echo "== $STEP: $*" | tee "$OUT/$STEP.log"
  "$@" 2>&1 | tee -a "$OUT/$STEP.log"
}

if ! "$PY" -c "import torch, logo, model, dream, pytest" 2>/dev/null; then
  step install "$PY" -m pip install -e ".[test]"
fi
STEP=device
{
  echo "date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
  echo "commit: $(git rev-parse --short HEAD 2>/dev/null || echo unknown)"
  "$PY" -c "import torch; print('torch', torch.__version__, 'cuda', torch.version.cuda)"
  command -v nvidia-smi >/dev/null && nvidia-smi || echo "(no nvidia-smi)"
} > "$OUT/device.log" 2>&1
if [ "$DEVICE" = cuda ]; then
  "$PY" -c "import torch, sys; sys.exit(0 if torch.cuda.is_available() else 'gpu_check: CUDA is not available to torch (DEVICE=cpu for a dry run)')"
fi

# 1. the CUDA tests (they skip without CUDA, which only a DEVICE=cpu dry run should see)
step tests "$PY" -m pytest -q -m gpu -rs tests
# 2. training throughput: end to end vs model only, fp32 / bf16 / bf16+compile
step train_bench "$PY" bench/train.py --device "$DEVICE" --batch-sizes "$BATCH_SIZES" --modes "$MODES" \
  --seconds "$BENCH_SECONDS" ${TRAIN_BENCH_ARGS:-}
grep '^{' "$OUT/train_bench.log" > "$OUT/train_bench.jsonl"
# 3. the data side: pairs/s on one core next to the model's rate
step pairs_bench "$PY" bench/pairs.py --device "$DEVICE" --seconds "$PAIRS_SECONDS" ${PAIRS_BENCH_ARGS:-}
grep '^{' "$OUT/pairs_bench.log" > "$OUT/pairs_bench.jsonl"
# 4. about ten minutes of the full learning loop, shortened by flags
step run "$PY" -m app.cli run --config full --out "$OUT/run" --rounds 1 --train-seconds "$TRAIN_SECONDS" \
  --db-size "$DB_SIZE" --db-growth 0 --solve-budget "$SOLVE_BUDGET" --solve-tasks "$SOLVE_TASKS" \
  --solve-mnist "$SOLVE_MNIST" --device "$DEVICE" ${RUN_ARGS:-}
# 5. the solve figures of that checkpoint: the model against the proposers without one
if [ -f bench/solve.py ]; then
  step solve "$PY" bench/solve.py --ckpt "$OUT/run/ckpt" --db "$OUT/run/db.sqlite" --device "$DEVICE" \
    --budget "$SOLVE_BUDGET" --limit "$SOLVE_LIMIT" --json "$OUT/solve.json" --quiet ${SOLVE_ARGS:-}
fi

STEP=summary
"$PY" - "$OUT" <<'PY' | tee "$OUT/summary.md"
import json, sys
from pathlib import Path
out = Path(sys.argv[1])
print(f"# GPU check: {out}\n")
print("## bench/train.py (samples/s)\n")
print("| preset | mode | batch | model only | end to end | ratio |")
print("| --- | --- | --- | --- | --- | --- |")
for line in (out / "train_bench.jsonl").read_text().splitlines():
    r = json.loads(line)
    print(f"| {r['preset']} | {r['mode']} | {r['batch_size']} | {r['model_only_samples_per_s']:,.0f} | "
          f"{r['end_to_end_with_refresh_samples_per_s']:,.0f} | {r['ratio']:.2f} |")
for line in (out / "pairs_bench.jsonl").read_text().splitlines():
    r = json.loads(line)
    print(f"\n## bench/pairs.py (one core)\n\nbatch {r['batch_pairs_per_s']:,} pairs/s, sustained with refreshes "
          f"{r['sustained_pairs_per_s']:,} pairs/s, new mutation pairs {r['mutation_pairs_per_s']:,}/s; "
          f"model ({r['model']}, {r['model_device']}, batch {r['model_batch']}) {r['model_samples_per_s']:,} samples/s")
state = out / "run" / "state.json"
if state.exists():
    hist = json.loads(state.read_text()).get("history", [])
    print("\n## logo run --config full (shortened)\n")
    for h in hist:
        keep = {k: v for k, v in h.items() if not isinstance(v, (dict, list))}
        print(f"- round {h.get('round')}: {json.dumps(keep)}")
metrics = out / "run" / "ckpt" / "metrics.jsonl"
if metrics.exists():
    rows = [json.loads(l) for l in metrics.read_text().splitlines() if l.strip()]
    last = [r for r in rows if r.get("kind") == "train"][-1:]
    ev = [r for r in rows if r.get("kind") == "eval"][-1:]
    if last:
        print(f"- train: step {last[0]['step']}, {last[0]['samples_per_s']:,.0f} samples/s, "
              f"data {100 * last[0]['data_frac']:.0f}% of the loop, loss {last[0]['loss']:.3f}")
    if ev:
        print(f"- held-out edits reproduce B: {ev[0]['reproduces']:.3f}")
if (out / "solve.log").exists():
    print("\n## bench/solve.py\n\n```")
    print("\n".join(l for l in (out / "solve.log").read_text().splitlines()[1:] if l.strip()))
    print("```")
PY
echo "gpu_check: done; figures in $OUT/summary.md"
