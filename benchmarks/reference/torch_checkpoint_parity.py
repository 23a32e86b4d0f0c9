#!/usr/bin/env python3
"""PyTorch checkpoints in Canopy without Python at load time (issue 22, part 1, must-show 1).

  export DIR   torchvision's resnet18, vgg11_bn and googlenet (num_classes=17), randomly initialised,
               batch-norm statistics and affine parameters randomised so they matter, in eval mode:
               each state dict written by torch.save to DIR/NAME.pth (the zip format, as torchvision's
               own downloads), with an input batch and torchvision's logits in DIR/NAME.io.safetensors;
               and DIR/evil.pth, a torch.save whose pickle names posix.system (os.system) through an
               object's __reduce__, which Canopy must refuse without running anything.
Run through scripts/torch-checkpoint-parity.sh: export, then TorchCheckpointParityTests (Canopy loads
each .pth the way models[].init does and compares logits, 1e-4 relative), then `canopy weights convert`
on evil.pth (must fail naming the global).
Set-up: python3 -m venv .venv-torch && .venv-torch/bin/pip install torch torchvision numpy safetensors
"""
import os
import sys

import torch
from safetensors.torch import save_file

from torchvision_parity import randomised  # the same models, randomised the same way

MODELS = ["resnet18", "vgg11_bn", "googlenet"]


class Evil:
    def __reduce__(self):
        return (os.system, ("echo this line means the pickle ran",))


def export(folder):
    torch.manual_seed(2212)
    for name in MODELS:
        model, x, logits = randomised(name)
        torch.save(model.state_dict(), os.path.join(folder, f"{name}.pth"))
        save_file({"input": x, "logits": logits}, os.path.join(folder, f"{name}.io.safetensors"))
        size = os.path.getsize(os.path.join(folder, f"{name}.pth"))
        print(f"exported {name}: {len(model.state_dict())} tensors, {size:,} bytes")
    torch.save({"fc.weight": torch.zeros(17, 512), "payload": Evil()}, os.path.join(folder, "evil.pth"))
    print("exported evil.pth (its pickle names posix.system)")


if __name__ == "__main__":
    {"export": export}[sys.argv[1]](sys.argv[2])
