#!/usr/bin/env bash
# A virtualenv of its own for Ludwig (it brings PyTorch; mlcli's .venv stays as it is).
# Run by hand from the repository root:  bash benchmarks/peer_ludwig/setup.sh
# then:                                  benchmarks/peer_ludwig/.venv/bin/python benchmarks/peer_ludwig/run.py
set -euo pipefail
VENV=benchmarks/peer_ludwig/.venv
LUDWIG_VERSION=${LUDWIG_VERSION:-0.11.0}
python3 -m venv "$VENV"
"$VENV/bin/pip" install --quiet --upgrade pip
"$VENV/bin/pip" install --quiet "ludwig==$LUDWIG_VERSION"
"$VENV/bin/python" -c "import ludwig, torch; print('ludwig', ludwig.__version__, 'torch', torch.__version__)"
