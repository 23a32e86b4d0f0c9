#!/usr/bin/env python3
"""Cross-check Canopy's backbones with torchvision, both directions (issue: backbones, must-show 2).

  export DIR   torchvision's randomly initialised models (num_classes=17, batch-norm statistics and
               affine parameters randomised so they matter) saved as safetensors, with an input batch
               and torchvision's eval-mode logits.
  reverse DIR  loads the weights Canopy saved (by BackboneParityTests) into torchvision and compares
               torchvision's logits with Canopy's.
Run through scripts/torchvision-parity.sh, which does export → swift test → reverse.
Set-up: python3 -m venv .venv-torch && .venv-torch/bin/pip install torch torchvision numpy safetensors
"""
import os
import sys

import torch
import torchvision
from safetensors.torch import load_file, save_file

MODELS = ["resnet18", "resnet50", "vgg11_bn", "alexnet", "googlenet"]
SIZE = 64
TOLERANCE = 1e-4


def build(name):
    kwargs = {"num_classes": 17}
    if name == "googlenet":
        kwargs.update(aux_logits=False, init_weights=True)
    return getattr(torchvision.models, name)(**kwargs).eval()


def randomised(name):
    """torchvision's model in eval mode with batch-norm statistics and affine parameters randomised (so
    they matter), an input batch and its logits."""
    model = build(name)
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, torch.nn.BatchNorm2d):
                module.running_mean.uniform_(-0.2, 0.2)
                module.running_var.uniform_(0.5, 1.5)
                module.weight.uniform_(0.5, 1.5)
                module.bias.uniform_(-0.2, 0.2)
        x = torch.randn(2, 3, SIZE, SIZE)
        return model, x, model(x)


def relative_error(a, b):
    return float((a - b).abs().max() / b.abs().max())


def export(folder):
    torch.manual_seed(2026)
    for name in MODELS:
        model, x, logits = randomised(name)
        state = {k: v.contiguous() for k, v in model.state_dict().items()}
        save_file(state, os.path.join(folder, f"{name}.torch.safetensors"))
        save_file({"input": x, "logits": logits}, os.path.join(folder, f"{name}.torch-io.safetensors"))
        print(f"exported {name}: {sum(p.numel() for p in model.parameters()):,} parameters")


def reverse(folder):
    worst = 0.0
    for name in MODELS:
        model = build(name)
        state = load_file(os.path.join(folder, f"{name}.canopy.safetensors"))
        model.load_state_dict(state, strict=True)
        io = load_file(os.path.join(folder, f"{name}.canopy-io.safetensors"))
        with torch.no_grad():
            logits = model(io["input"])
        error = relative_error(logits, io["logits"])
        worst = max(worst, error)
        print(f"reverse {name}: Canopy's weights in torchvision, logits relative error {error:.2e}")
    if worst > TOLERANCE:
        sys.exit(f"reverse check failed: {worst:.2e} > {TOLERANCE}")


if __name__ == "__main__":
    {"export": export, "reverse": reverse}[sys.argv[1]](sys.argv[2])
