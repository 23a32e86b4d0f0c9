#!/usr/bin/env python3
"""Reference logits of every backbone in Canopy's registry, from torchvision's own model code
(issue 16: backbone numerics in the default suite, no weight files).

Every parameter and buffer is filled by a formula that Swift computes the same way
(Tests/BackbonesTests/BackboneNumericsTests.swift), from the tensor's state_dict name and each
element's flat index in PyTorch's row-major order; so a mistake in a stride, a padding, a branch
order or a pooling that keeps the parameter count changes the logits and fails the test.

    h      = FNV-1a 32-bit hash of the name's UTF-8 bytes
    x      = (index * 0x9E3779B1 + h) mod 2^32, then mixed: x ^= x >> 16; x *= 0x7FEB352D;
             x ^= x >> 15; x *= 0x846CA68B; x ^= x >> 16 (all mod 2^32)
    r      = x / 2^32 - 0.5                                    (exact in double, in [-0.5, 0.5))
    value  = float32(r * sqrt(24 / fan_in))    weights of rank >= 2 (variance 2 / fan_in, He's)
             float32(0.2 * r)                  biases, batch-norm biases and running means
             float32(1 + 0.5 * r)              batch-norm weights and running variances
    num_batches_tracked is left as it is (it changes nothing in eval mode).
The input, [N, C, H, W] = [2, 3, H, W] with H != W (so a swapped height and width shows; the sizes
per family in INPUT_SIZES are the smallest that leave the last stage more than one pixel wide), is
`float32(2 * r)` under the name "input". The models run in eval mode (batch-norm running
statistics, dropout off).

Writes backbone_numerics.json beside this file: per backbone, the input shape, each top-level
stage's output shape (torchvision's module names) and the 2 x 17 logits. For one backbone of each
family (TRAINED), also a training step's numbers: in train mode (batch statistics; dropout set to 0,
as its masks cannot match), a batch of 4 under the name "input", targets 1 where the formula's r of
"targets" is above 0.2, BCEWithLogitsLoss (mean); the loss, and per parameter the gradient's norm and
its dot product with a probe filled as the input is under the name "probe:" + the parameter's name,
both over the parameter's first PROBED elements in flat order (the whole tensor but for the largest).

Set-up (once; torch pulls about 4 GB of wheels from PyPI):
    python3 -m venv .venv-torch && .venv-torch/bin/pip install torch torchvision numpy safetensors
Run from the repository root:
    .venv-torch/bin/python Tests/BackbonesTests/Fixtures/make_backbone_numerics.py
"""
import json
import math
import os

import numpy as np
import torch
import torch.nn as nn
import torchvision



def input_shape(name):
    if name.startswith("alexnet"):
        return [2, 3, 96, 112]  # last pool 2x2
    if name.startswith("vgg"):
        return [2, 3, 32, 64]   # last pool 1x2
    return [2, 3, 32, 40]       # ResNet's layer4 1x2, GoogLeNet's inception5 1x2, LeNet's C3 10x14
MASK = 0xFFFFFFFF


def fnv1a(name):
    h = 0x811C9DC5
    for b in name.encode("utf-8"):
        h = ((h ^ b) * 0x01000193) & MASK
    return h


def uniform(name, count):
    """r in [-0.5, 0.5) for elements 0..count-1 of the tensor called `name` (numpy, uint64 lanes)."""
    index = np.arange(count, dtype=np.uint64)
    x = (index * np.uint64(0x9E3779B1) + np.uint64(fnv1a(name))) & np.uint64(MASK)
    x ^= x >> np.uint64(16)
    x = (x * np.uint64(0x7FEB352D)) & np.uint64(MASK)
    x ^= x >> np.uint64(15)
    x = (x * np.uint64(0x846CA68B)) & np.uint64(MASK)
    x ^= x >> np.uint64(16)
    return x.astype(np.float64) / 4294967296.0 - 0.5


def formula(name, shape, kind):
    count = int(np.prod(shape)) if shape else 1
    r = uniform(name, count)
    if kind == "weight":
        fan_in = int(np.prod(shape[1:]))
        values = r * math.sqrt(24.0 / fan_in)
    elif kind == "small":
        values = 0.2 * r
    elif kind == "unit":
        values = 1.0 + 0.5 * r
    else:
        values = 2.0 * r
    return torch.from_numpy(values.astype(np.float32).reshape(shape))


def kind_of(name, tensor, batch_norm_names):
    if name.endswith("num_batches_tracked"):
        return None
    if tensor.dim() >= 2:
        return "weight"
    module = name.rsplit(".", 1)[0]
    if module in batch_norm_names and (name.endswith(".weight") or name.endswith(".running_var")):
        return "unit"
    return "small"


def fill(model):
    batch_norm_names = {n for n, m in model.named_modules() if isinstance(m, nn.BatchNorm2d)}
    state = model.state_dict()
    for name, tensor in state.items():
        kind = kind_of(name, tensor, batch_norm_names)
        if kind is not None:
            tensor.copy_(formula(name, list(tensor.shape), kind))


class LeNet5(nn.Module):
    """Canopy's LeNet-5 (Sources/Backbones/LeNet.swift), in torchvision's style."""
    def __init__(self, num_classes=17):
        super().__init__()
        self.features = nn.Sequential(nn.Conv2d(3, 6, 5), nn.ReLU(), nn.AvgPool2d(2),
                                      nn.Conv2d(6, 16, 5), nn.ReLU(), nn.AvgPool2d(2))
        self.avgpool = nn.AdaptiveAvgPool2d((5, 5))
        self.classifier = nn.Sequential(nn.Linear(400, 120), nn.ReLU(), nn.Linear(120, 84), nn.ReLU(),
                                        nn.Linear(84, num_classes))

    def forward(self, x):
        return self.classifier(torch.flatten(self.avgpool(self.features(x)), 1))


def alexnet_lrn(num_classes=17):
    """torchvision's AlexNet with the paper's local response normalisation after the first two ReLUs
    (Sources/Backbones/AlexNet.swift): the features' indices shift by one after each."""
    model = torchvision.models.alexnet(num_classes=num_classes)
    f = list(model.features)
    lrn = lambda: nn.LocalResponseNorm(5, alpha=1e-4, beta=0.75, k=2.0)
    model.features = nn.Sequential(*(f[:2] + [lrn()] + f[2:5] + [lrn()] + f[5:]))
    return model


def build(name):
    if name == "lenet5":
        return LeNet5()
    if name == "alexnet_lrn":
        return alexnet_lrn()
    kwargs = {"num_classes": 17}
    if name == "googlenet":
        kwargs.update(aux_logits=False, init_weights=False, transform_input=False)
    return getattr(torchvision.models, name)(**kwargs)


NAMES = (["lenet5", "alexnet", "alexnet_lrn"]
         + [f"vgg{d}{bn}" for d in (11, 13, 16, 19) for bn in ("", "_bn")]
         + [f"resnet{d}" for d in (18, 34, 50, 101, 152)] + ["googlenet"])


TRAINED = ["lenet5", "alexnet", "vgg11_bn", "resnet18", "googlenet"]
PROBED = 65536


def training_step(name):
    model = build(name).train()
    with torch.no_grad():
        fill(model)
    for module in model.modules():
        if isinstance(module, nn.Dropout):
            module.p = 0.0
    shape = [4] + input_shape(name)[1:]
    x = formula("input", shape, "input")
    targets = (formula("targets", [4, 17], "small") > 0.2 * 0.2).float()  # r > 0.2
    loss = nn.BCEWithLogitsLoss()(model(x), targets)
    loss.backward()
    gradients = {}
    for pname, parameter in model.named_parameters():
        g = parameter.grad.double().flatten()[:PROBED]
        probe = formula("probe:" + pname, [g.numel()], "input").double()
        gradients[pname] = {"norm": float(g.norm()), "probe": float((g * probe).sum())}
    return {"probed": PROBED, "input_shape": shape, "loss": float(loss), "gradients": gradients}


def main():
    folder = os.path.dirname(os.path.abspath(__file__))
    out = {"torch": torch.__version__, "torchvision": torchvision.__version__, "models": {}}
    for name in NAMES:
        x = formula("input", input_shape(name), "input")
        model = build(name).eval()
        with torch.no_grad():
            fill(model)
            shapes = {}
            hooks = [child.register_forward_hook(lambda m, i, o, key=key: shapes.__setitem__(key, list(o.shape)))
                     for key, child in model.named_children() if not isinstance(child, nn.Dropout)]
            logits = model(x)
            for hook in hooks:
                hook.remove()
        parameters = sum(p.numel() for p in model.parameters())
        out["models"][name] = {"input_shape": input_shape(name), "parameters": parameters, "stage_shapes": shapes,
                               "logits": [[float(v) for v in row] for row in logits]}
        if name in TRAINED:
            out["models"][name]["training_step"] = training_step(name)
            print(f"{name}: training loss {out['models'][name]['training_step']['loss']:.6f}")
        print(f"{name}: {parameters:,} parameters, |logits| max {logits.abs().max():.4g}")
    with open(os.path.join(folder, "backbone_numerics.json"), "w") as f:
        json.dump(out, f, indent=1)
        f.write("\n")


if __name__ == "__main__":
    main()
