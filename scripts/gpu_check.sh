#!/usr/bin/env bash
# Prepared GPU check for a lent H200 (or any CUDA machine): runs the chat-stack benchmarks and the tiny speedrun
# with CUDA + bf16 autocast, and prints `name: value` figures. Budget: about 5 minutes of device time.
#
#   bash scripts/gpu_check.sh            # uses .venv/bin/python if present, else python3 (needs a CUDA torch)
#
# Writes report.md and gpu_check.log under $OUT (or ./gpu_check_out) so they come back with the run.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-}
if [ -z "$PY" ]; then
  if [ -x .venv/bin/python ]; then PY=.venv/bin/python; else PY=python3; fi
fi
OUT=${OUT:-$PWD/gpu_check_out}
mkdir -p "$OUT"
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
export NANOCHAT_BASE_DIR="$OUT/base"
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-8}

{
  nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader || true
  "$PY" - <<'PYEOF'
import torch
print(f"torch_version: {torch.__version__}")
print(f"cuda_available: {torch.cuda.is_available()}")
assert torch.cuda.is_available(), "no CUDA device: this check is for a GPU machine"
print(f"gpu_name: {torch.cuda.get_device_name(0)}")
print(f"bf16_supported: {torch.cuda.is_bf16_supported()}")
PYEOF
  # Engine figures on the GPU: KV cache vs none, batched vs single (bigger model than on CPU)
  "$PY" bench/bench_chat.py --device cuda --depth 8 --prompt-len 256 --new-tokens 256 --speedrun none
  # The whole pipeline on CUDA (bf16 autocast in every stage); per-stage times and accuracies are printed
  start=$(date +%s)
  (cd "$OUT" && timeout 420 "$PY" -m nanochat_ref.speedrun --tiny --device-type cuda) | grep -E '^(speedrun_|mid/|sft/|rl/)' || true
  echo "gpu_speedrun_tiny_wall_s: $(( $(date +%s) - start ))"
  cp "$NANOCHAT_BASE_DIR/report/report.md" "$OUT/report.md" 2>/dev/null || true
} 2>&1 | tee "$OUT/gpu_check.log"
