#!/usr/bin/env python3
"""PyTorch (CPU) beside `canopy bench train|infer`: one (model, size, mode) per process, a last line of JSON.

Adapted from the peers' benchmark script bench_torch.py (on the team's reference shelf, not in this repository); the measurement is Canopy's
(Sources/Benchmarks/ModelBenchmark.swift): a fixed random batch (normal inputs, multi-hot 17 labels
with P(1) = 0.3), --warmup untimed steps, then --steps timed steps, each timed on its own;
images_per_second = batch / median step time; peak_rss_mb = ru_maxrss of this process in MB.

  models: resnet18, vgg11_bn, googlenet (torchvision, num_classes=17; googlenet with aux_logits=False,
          init_weights=True), simple (the peers' conv32-conv64-conv128 + dense128 + dense17); any other
          torchvision classification model by name, built with num_classes=17
  train : model.train(), BCEWithLogitsLoss, SGD(lr 0.01, momentum 0.9): zero_grad + forward + loss +
          backward + step
  infer : model.eval(), torch.inference_mode(), sigmoid(model(x)) (Canopy's infer returns probabilities);
          the JSON says mode "predict", as Canopy's does
  threads: OMP_NUM_THREADS / MKL_NUM_THREADS = --threads (set before torch loads),
          torch.set_num_threads(--threads), torch.set_num_interop_threads(--threads)

Usage: .venv-bench/bin/python benchmarks/reference/bench_torch.py --model resnet18 --size 128 \
           --batch 32 --threads 2 --mode train --steps 10 --warmup 2 [--channels-last]
"""
import os
import sys

from bench_common import parse, report, time_steps
from torchvision_import import import_torchvision

a = parse(__doc__, lambda ap: ap.add_argument("--channels-last", action="store_true",
                                              help="NHWC memory format (not the default)"))

import torch  # noqa: E402
import torch.nn as nn  # noqa: E402

NUM_CLASSES = 17


def simple_cnn(size):
    return nn.Sequential(
        nn.Conv2d(3, 32, 3, padding=1), nn.ReLU(inplace=True), nn.MaxPool2d(2),
        nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(inplace=True), nn.MaxPool2d(2),
        nn.Conv2d(64, 128, 3, padding=1), nn.ReLU(inplace=True), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(128 * (size // 8) ** 2, 128), nn.ReLU(inplace=True), nn.Linear(128, NUM_CLASSES))


def build(name, size):
    if name == "simple":
        return simple_cnn(size)
    torchvision = import_torchvision()
    kwargs = {"num_classes": NUM_CLASSES}
    if name == "googlenet":
        kwargs.update(aux_logits=False, init_weights=True)
    try:
        factory = getattr(torchvision.models, name)
    except AttributeError:
        sys.exit(f"unknown model {name}: resnet18, vgg11_bn, googlenet, simple or a torchvision model name")
    return factory(**kwargs)


def forward_gflops_per_image(model, size):
    """Forward GFLOPs of one image, 2 per multiply-add of convolutions and matrix products (as Canopy's CostMeter)."""
    try:
        from torch.utils.flop_counter import FlopCounterMode
    except ImportError:
        return None
    was_training = model.training
    model.eval()
    counter = FlopCounterMode(display=False)
    with counter, torch.no_grad():
        model(torch.zeros(1, 3, size, size))
    model.train(was_training)
    return counter.get_total_flops() / 1e9


def main():
    torch.set_num_threads(a.threads)
    try:
        torch.set_num_interop_threads(a.threads)
    except RuntimeError:
        pass
    torch.manual_seed(0)
    model = build(a.model, a.size)
    params = sum(p.numel() for p in model.parameters())
    flops = forward_gflops_per_image(model, a.size)

    gen = torch.Generator().manual_seed(2)
    x = torch.randn(a.batch, 3, a.size, a.size, generator=gen)
    y = (torch.rand(a.batch, NUM_CLASSES, generator=gen) < 0.3).float()
    if a.channels_last:
        model = model.to(memory_format=torch.channels_last)
        x = x.contiguous(memory_format=torch.channels_last)

    train = a.mode == "train"
    if train:
        model.train()
        loss_fn = nn.BCEWithLogitsLoss()
        opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)

        def step():
            opt.zero_grad(set_to_none=True)
            loss = loss_fn(model(x), y)
            loss.backward()
            opt.step()
    else:
        model.eval()

        def step():
            with torch.inference_mode():
                return torch.sigmoid(model(x))

    times = time_steps(step, a)
    report("torch", a, times, flops, version=f"torch {torch.__version__}", params=params, channels_last=a.channels_last)

if __name__ == "__main__":
    main()
