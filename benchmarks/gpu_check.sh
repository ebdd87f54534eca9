#!/usr/bin/env bash
# One command for whoever has a GPU: short timed runs of every trainer (predictors,
# MPC, PPO, Dreamer) at the papers' sizes on CUDA, printing updates/s per trainer and
# the hours a paper budget takes at that rate. A few minutes; needs `make install`.
#   bash benchmarks/gpu_check.sh            # or DEVICE=cuda:1 bash benchmarks/gpu_check.sh
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-.venv/bin/python}
[ -x "$PYTHON" ] || PYTHON=python
export MUJOCO_GL=${MUJOCO_GL:-egl} SDL_VIDEODRIVER=${SDL_VIDEODRIVER:-dummy}
"$PYTHON" -c "import torch, sys; sys.exit(0 if torch.cuda.is_available() else 'no CUDA device visible to torch')"
"$PYTHON" -m benchmarks.device_check --device "${DEVICE:-cuda}" "$@"
