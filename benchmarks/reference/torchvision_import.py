"""Imports torchvision beside a CPU-only torch (shared by bench_torch.py and quality/torch_reference.py)."""
import os
import sys

import torch

STUB_OPS = None  # keeps the stub operator definitions alive


def import_torchvision():
    """Imports torchvision, also beside a CPU-only torch whose torchvision lacks working C++ ops.

    PyPI's torchvision wheels link their C++ ops (_C.so) against CUDA torch; beside a +cpu torch that
    library does not load, torchvision carries on without its ops, but its _meta_registrations module
    then fails on `register_fake("torchvision::nms")` (and qnms) for want of the operator. Where _C.so
    does not load, this defines those operators' schemas (never called: the classification models use
    none of torchvision's ops) so the import goes through. Where _C.so loads, nothing is done."""
    global STUB_OPS
    import glob
    import importlib.util
    import re
    spec = importlib.util.find_spec("torchvision")
    if spec is None:
        sys.exit("torchvision is not installed (benchmarks/reference/setup.sh installs it)")
    folder = spec.submodule_search_locations[0]
    try:
        torch.ops.load_library(glob.glob(os.path.join(folder, "_C*.so"))[0])
    except (IndexError, OSError, RuntimeError):
        try:
            source = open(os.path.join(folder, "_meta_registrations.py")).read()
        except OSError:
            source = ""
        names = sorted(set(re.findall(r'register_fake\(\s*"torchvision::(\w+)"', source)))
        missing = [n for n in names if not hasattr(torch.ops.torchvision, n)]
        if missing:
            STUB_OPS = torch.library.Library("torchvision", "FRAGMENT")
            for n in missing:
                STUB_OPS.define(f"{n}(Tensor dets, Tensor scores, float iou_threshold) -> Tensor")
    import torchvision
    return torchvision
