#!/usr/bin/env bash
# Creates the peer-benchmark venv (.venv-bench at the repo root, git-ignored by /.venv*/) and installs
# CPU-only PyTorch + torchvision, tensorflow-cpu (Keras 3 on TensorFlow), numpy and psutil.
# Idempotent: a package that already imports is skipped. Prints what it did.
#
#   benchmarks/reference/setup.sh            # VENV=path overrides the venv's location
#
# PyTorch, in order of preference:
#   1. the PyTorch CPU index (pip install torch torchvision --index-url https://download.pytorch.org/whl/cpu),
#      about 0.2 GB of wheels instead of the ~4 GB of CUDA libraries PyPI's default torch pulls in;
#   2. where that index can't be reached: a CPU-only torch wheel (torch-*+cpu-*.whl) found in pip's
#      find-links folders (PIP_FIND_LINKS or pip config), then PyPI's torchvision pinned to that torch;
#   3. otherwise PyPI's default torch + torchvision (works on CPU, but ~4 GB of CUDA libraries).
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
VENV=${VENV:-$ROOT/.venv-bench}
PY=$VENV/bin/python
CPU_INDEX=https://download.pytorch.org/whl/cpu

say() { echo "setup: $*"; }
has() { "$PY" -c "import $1" >/dev/null 2>&1; }
# torchvision counts as installed when its package is there: PyPI's wheel, beside a CPU-only torch, has
# C++ ops that don't load and an import that torchvision_import.py's import_torchvision() makes work
has_torchvision() { "$PY" -c 'import importlib.util, sys; sys.exit(importlib.util.find_spec("torchvision") is None)' >/dev/null 2>&1; }
tv_version() { "$PY" -c 'from importlib.metadata import version; print(version("torchvision"))' 2>/dev/null; }
version() { "$PY" -c "import $1; print($1.__version__)" 2>/dev/null; }
pip_install() { say "pip install $*"; "$PY" -m pip install --quiet "$@"; }

if [ -x "$PY" ]; then
    say "venv $VENV exists, kept"
else
    python3 -m venv "$VENV"
    say "created venv $VENV ($("$PY" --version))"
fi

# numpy, psutil, tensorflow-cpu (one resolve, so numpy fits TensorFlow's pins)
missing=()
has numpy || missing+=(numpy)
has psutil || missing+=(psutil)
has tensorflow || missing+=(tensorflow-cpu)
if [ ${#missing[@]} -gt 0 ]; then
    if pip_install "${missing[@]}"; then
        say "installed ${missing[*]}"
    else
        say "FAILED to install ${missing[*]} (carrying on: compare.sh skips a missing framework)"
    fi
else
    say "numpy, psutil, tensorflow already installed, skipped"
fi

# torch + torchvision, CPU-only where possible
local_cpu_wheel() {
    local dirs=() d pyver
    pyver=$("$PY" -c 'import sys; print(f"cp{sys.version_info[0]}{sys.version_info[1]}")')
    [ -n "${PIP_FIND_LINKS:-}" ] && dirs+=($PIP_FIND_LINKS)
    while read -r d; do [ -n "$d" ] && dirs+=($d); done < <("$PY" -m pip config get global.find-links 2>/dev/null || true)
    for d in "${dirs[@]}"; do
        [ -d "$d" ] && ls "$d"/torch-*+cpu-"$pyver"-*linux*x86_64.whl 2>/dev/null
    done | sort -V | tail -1
}

if has torch && has_torchvision; then
    say "torch $(version torch) and torchvision $(tv_version) already installed, skipped"
elif "$PY" -m pip install --quiet --timeout 30 --retries 1 torch torchvision --index-url "$CPU_INDEX" 2>/dev/null; then
    say "installed torch $(version torch) and torchvision $(tv_version) from the PyTorch CPU index"
else
    say "the PyTorch CPU index ($CPU_INDEX) gave no torch/torchvision here"
    wheel=$(local_cpu_wheel || true)
    if [ -n "$wheel" ]; then
        # torchvision pins torch==X.Y.Z, which the local X.Y.Z+cpu satisfies: pip keeps the CPU build
        if { has torch || pip_install "$wheel"; } \
            && base=$("$PY" -c 'import torch; print(torch.__version__.split("+")[0])') \
            && pip_install torchvision "torch==$base"; then
            say "installed CPU-only torch $(version torch) from $wheel and torchvision $(tv_version) from PyPI"
        else
            say "FAILED to install torch from $wheel and torchvision (carrying on)"
        fi
    else
        say "WARNING: no CPU-only torch wheel found; installing PyPI's default torch (about 4 GB of CUDA libraries)"
        if pip_install torch torchvision; then
            say "installed torch $(version torch) and torchvision $(tv_version) from PyPI"
        else
            say "FAILED to install torch and torchvision (carrying on)"
        fi
    fi
fi

# what the venv has now (reported, not fatal: compare.sh skips a framework that is missing)
TF_CPP_MIN_LOG_LEVEL=3 PYTHONDONTWRITEBYTECODE=1 "$PY" - "$ROOT/benchmarks/reference" 2>/dev/null <<'EOF'
import importlib
import sys
for name in ("numpy", "psutil", "torch", "torchvision", "tensorflow", "keras"):
    try:
        if name == "torchvision":  # through torchvision_import.py, which copes with a CUDA-built torchvision
            sys.path.insert(0, sys.argv[1])
            import torchvision_import
            m = torchvision_import.import_torchvision()
            how = " (its C++ ops don't load beside this torch; torchvision_import.py stubs them, the models need none)" \
                if torchvision_import.STUB_OPS is not None else ""
        else:
            m, how = importlib.import_module(name), ""
        print(f"setup: {name} {m.__version__}{how}")
    except BaseException as e:
        print(f"setup: {name} MISSING ({type(e).__name__}: {e})")
EOF
say "venv size $(du -sh "$VENV" | cut -f1)"
