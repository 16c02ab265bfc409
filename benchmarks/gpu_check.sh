#!/usr/bin/env bash
# GPU readiness check: 32 vs bf16-mixed vs 16-mixed step time of the Sun et al. 2020 network
# (recipe sizes, MuSe-CaR features, batch 32 x 200 frames) and of the Tzirakis et al. 2017 visual
# path (ResNet-50 on 96x96 face crops of synthetic RECOLA video, batch 2 x 150 frames), plus NCCL
# DDP throughput of the Sun network when the machine has two or more GPUs, and the self-supervised
# family (a WavLM-Base-shaped encoder on 6 s windows, batch 8: the transformer fine-tuned, and the
# frozen encoder read from its cache). Prints Markdown tables to stdout (progress on stderr) and
# finishes within 10 minutes on one GPU (each part has its own time limit, 570 s in all, so a
# stuck part cannot eat the others' time).
#
# Usage (from anywhere; it runs in the repository root):
#   bash benchmarks/gpu_check.sh             # on a GPU machine; exits 2 if torch sees no GPU
#   bash benchmarks/gpu_check.sh --dry-run   # CPU, tiny sizes: checks the script (minutes)
# Environment: PYTHON=/path/to/python (default .venv/bin/python, else python3) with affect-zoo
# installed; nothing is downloaded (the ResNet-50 is randomly initialised: weights do not change
# the speed).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

PY="${PYTHON:-.venv/bin/python}"
[ -x "$PY" ] || PY="$(command -v python3)"
MODE="gpu"
case "${1:-}" in
  "") ;;
  --dry-run) MODE="dry" ;;
  *) echo "usage: bash benchmarks/gpu_check.sh [--dry-run]" >&2; exit 64 ;;
esac

SCRATCH="$(mktemp -d -t gpu_check.XXXXXX)"
trap 'rm -rf "$SCRATCH"' EXIT
export AFFECT_ZOO_CACHE="$SCRATCH/cache" PYTHONWARNINGS=ignore WANDB_MODE=disabled

if [ "$MODE" = "gpu" ]; then
  GPUS="$("$PY" -c 'import torch; print(torch.cuda.device_count() if torch.cuda.is_available() else 0)')"
  if [ "$GPUS" -lt 1 ]; then
    echo "gpu_check: torch ($PY) sees no CUDA GPU; run with --dry-run to check the script on CPU" >&2
    exit 2
  fi
  command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader >&2 || true
  COMMON=(--accelerator gpu --rounds 3)
  SUN_DDP=()
  [ "$GPUS" -ge 2 ] || SUN_DDP=(--skip-ddp)
  SSL_ARGS=(--accelerator gpu --batch 8 --steps 3 --modes "fine-tune transformer" "frozen, cached")
  SUN_LIMIT=180 TZ_LIMIT=210 SSL_LIMIT=180
else
  GPUS=0
  COMMON=(--accelerator cpu --tiny --rounds 1)
  SUN_DDP=(--skip-ddp)
  SSL_ARGS=(--tiny --modes "fine-tune transformer" "frozen, cached")
  SUN_LIMIT=300 TZ_LIMIT=300 SSL_LIMIT=300
fi

status=0
echo "# GPU check ($MODE): $(date -u +%Y-%m-%dT%H:%M:%SZ), $GPUS GPU(s)"
echo
echo ">> sun2020 (limit ${SUN_LIMIT}s)" >&2
timeout "$SUN_LIMIT" "$PY" benchmarks/precision_devices.py --model sun2020 "${COMMON[@]}" "${SUN_DDP[@]}" \
  || { status=$?; echo "gpu_check: sun2020 part failed or timed out (status $status)" >&2; }
echo
echo ">> tzirakis2017_visual (limit ${TZ_LIMIT}s)" >&2
timeout "$TZ_LIMIT" "$PY" benchmarks/precision_devices.py --model tzirakis2017_visual "${COMMON[@]}" --skip-ddp \
  || { status=$?; echo "gpu_check: tzirakis2017_visual part failed or timed out (status $status)" >&2; }
echo
echo ">> ssl_encoder (limit ${SSL_LIMIT}s)" >&2
timeout "$SSL_LIMIT" "$PY" benchmarks/ssl_encoder.py "${SSL_ARGS[@]}" \
  || { status=$?; echo "gpu_check: ssl_encoder part failed or timed out (status $status)" >&2; }
exit "$status"
