#!/usr/bin/env python3
"""PyTorch reference values for Canopy's engine kernels (issue: tensor engine, parity with PyTorch).

Writes one safetensors file per case into parity/: the inputs and parameters, PyTorch's forward
output, the upstream gradient used, and PyTorch's gradients for the input and every parameter.
Tensors are stored as PyTorch holds them (NCHW, [N, F]); the Swift test converts to Canopy's
feature-major layout itself. The test suite reads only these committed files, never Python.

Set-up (once; torch pulls about 4 GB of wheels from PyPI):
    python3 -m venv .venv-torch && .venv-torch/bin/pip install torch numpy safetensors
Run from the repository root:
    .venv-torch/bin/python Tests/NNTests/Fixtures/make_parity_fixtures.py
"""
import json
import os

import torch
import torch.nn as nn
import torch.nn.functional as F
from safetensors.torch import save_file

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "parity")
torch.manual_seed(20261122)
index = []


def save(name, kind, config, tensors):
    tensors = {k: v.detach().contiguous().float() for k, v in tensors.items()}
    save_file(tensors, os.path.join(OUT, name + ".safetensors"),
              metadata={"kind": kind, "config": json.dumps(config), "torch": torch.__version__})
    index.append({"name": name, "kind": kind, "config": config})


def run_module(module, x, extra=None):
    """Forward, then backward of sum(out * upstream); returns out, upstream, dx."""
    x = x.clone().requires_grad_(True)
    out = module(x)
    upstream = torch.randn_like(out)
    (out * upstream).sum().backward()
    return out, upstream, x.grad


def conv_cases():
    cases = [
        # name, in, out, kernel, stride, padding, bias, N, H, W
        ("conv3x3_s1_p1", 3, 8, 3, 1, 1, True, 2, 9, 8),
        ("conv3x3_s2_p1", 4, 6, 3, 2, 1, False, 3, 10, 9),
        ("conv1x1", 8, 5, 1, 1, 0, False, 2, 6, 6),
        ("conv1x1_s2", 6, 7, 1, 2, 0, False, 2, 7, 7),
        ("conv7x7_s2_p3", 3, 4, 7, 2, 3, False, 2, 16, 14),
        ("conv11x11_s4_p2", 3, 4, 11, 4, 2, True, 2, 31, 27),
        ("conv5x5_s1_p2", 5, 3, 5, 1, 2, True, 1, 8, 11),
    ]
    for name, cin, cout, k, s, p, bias, n, h, w in cases:
        conv = nn.Conv2d(cin, cout, k, stride=s, padding=p, bias=bias)
        x = torch.randn(n, cin, h, w)
        out, up, dx = run_module(conv, x)
        tensors = {"input": x, "weight": conv.weight, "output": out, "upstream": up, "input_grad": dx,
                   "weight_grad": conv.weight.grad}
        if bias:
            tensors.update({"bias": conv.bias, "bias_grad": conv.bias.grad})
        save(name, "conv2d", {"in": cin, "out": cout, "kernel": k, "stride": s, "padding": p, "bias": bias}, tensors)


def pool_cases():
    for name, k, s, p, ceil, h, w in [("maxpool3_s2_p1", 3, 2, 1, False, 9, 8), ("maxpool3_s2_ceil", 3, 2, 0, True, 10, 9),
                                      ("maxpool2", 2, 2, 0, False, 8, 6), ("maxpool3_s1_p1_ceil", 3, 1, 1, True, 7, 7)]:
        x = torch.randn(2, 3, h, w)
        out, up, dx = run_module(nn.MaxPool2d(k, s, p, ceil_mode=ceil), x)
        save(name, "maxpool", {"kernel": k, "stride": s, "padding": p, "ceil": ceil},
             {"input": x, "output": out, "upstream": up, "input_grad": dx})
    for name, k, s, p, ceil, include, h, w in [("avgpool3_s1_p1", 3, 1, 1, False, True, 7, 6),
                                               ("avgpool3_s2_ceil_exclude", 3, 2, 1, True, False, 8, 9),
                                               ("avgpool2", 2, 2, 0, False, True, 6, 6)]:
        x = torch.randn(2, 3, h, w)
        out, up, dx = run_module(nn.AvgPool2d(k, s, p, ceil_mode=ceil, count_include_pad=include), x)
        save(name, "avgpool", {"kernel": k, "stride": s, "padding": p, "ceil": ceil, "count_include_pad": include},
             {"input": x, "output": out, "upstream": up, "input_grad": dx})
    for name, oh, ow, h, w in [("adaptive_avg_3x3_from_7x5", 3, 3, 7, 5), ("adaptive_avg_6x6_from_13x13", 6, 6, 13, 13),
                               ("global_avg", 1, 1, 5, 4)]:
        x = torch.randn(2, 4, h, w)
        out, up, dx = run_module(nn.AdaptiveAvgPool2d((oh, ow)), x)
        save(name, "adaptive_avgpool", {"height": oh, "width": ow},
             {"input": x, "output": out, "upstream": up, "input_grad": dx})


def batch_norm_cases():
    for name, shape in [("batchnorm2d", (4, 5, 6, 7)), ("batchnorm1d", (6, 9))]:
        channels = shape[1]
        bn = nn.BatchNorm2d(channels) if len(shape) == 4 else nn.BatchNorm1d(channels)
        with torch.no_grad():
            bn.weight.uniform_(0.5, 1.5)
            bn.bias.uniform_(-0.5, 0.5)
            bn.running_mean.uniform_(-0.2, 0.2)
            bn.running_var.uniform_(0.8, 1.2)
        before_mean, before_var = bn.running_mean.clone(), bn.running_var.clone()
        x = torch.randn(*shape) * 2 + 0.5
        bn.train()
        out, up, dx = run_module(bn, x)
        bn.eval()
        eval_out = bn(x)
        save(name, "batchnorm", {"momentum": 0.1, "eps": 1e-5},
             {"input": x, "weight": bn.weight, "bias": bn.bias, "running_mean_before": before_mean,
              "running_var_before": before_var, "output": out, "upstream": up, "input_grad": dx,
              "weight_grad": bn.weight.grad, "bias_grad": bn.bias.grad, "running_mean_after": bn.running_mean,
              "running_var_after": bn.running_var, "eval_output": eval_out})


def other_cases():
    for name, size, alpha, beta, k in [("lrn5", 5, 1e-4, 0.75, 2.0), ("lrn4_strong", 4, 0.5, 0.75, 1.0)]:
        x = torch.randn(2, 7, 4, 5) * 3
        out, up, dx = run_module(nn.LocalResponseNorm(size, alpha, beta, k), x)
        save(name, "lrn", {"size": size, "alpha": alpha, "beta": beta, "k": k},
             {"input": x, "output": out, "upstream": up, "input_grad": dx})
    linear = nn.Linear(12, 7)
    x = torch.randn(5, 12)
    out, up, dx = run_module(linear, x)
    save("linear", "linear", {"in": 12, "out": 7},
         {"input": x, "weight": linear.weight, "bias": linear.bias, "output": out, "upstream": up, "input_grad": dx,
          "weight_grad": linear.weight.grad, "bias_grad": linear.bias.grad})
    for name, weighted in [("bce", False), ("bce_pos_weight", True)]:
        logits = (torch.randn(6, 17) * 4).requires_grad_(True)
        logits.data[0, :3] = torch.tensor([40.0, -40.0, 0.0])  # extreme logits must stay finite
        targets = (torch.rand(6, 17) < 0.3).float()
        pos_weight = torch.rand(17) * 3 + 0.5 if weighted else None
        loss = F.binary_cross_entropy_with_logits(logits, targets, pos_weight=pos_weight)
        loss.backward()
        tensors = {"logits": logits, "targets": targets, "loss": loss.reshape(1), "logits_grad": logits.grad}
        if weighted:
            tensors["pos_weight"] = pos_weight
        save(name, "bce", {"pos_weight": weighted}, tensors)


def main():
    os.makedirs(OUT, exist_ok=True)
    conv_cases()
    pool_cases()
    batch_norm_cases()
    other_cases()
    with open(os.path.join(OUT, "index.json"), "w") as f:
        json.dump(index, f, indent=1)
        f.write("\n")
    print(f"{len(index)} cases in {OUT}")


if __name__ == "__main__":
    main()
