#!/usr/bin/env python3
"""torch.optim reference trajectories for Canopy's optimisers and schedules.

Writes optimizer_reference.json: for each optimiser configuration, the parameter after each of three
steps with fixed gradients; for each schedule, torch's learning rate at every step.
Run from the repository root with the venv of make_parity_fixtures.py:
    .venv-torch/bin/python Tests/NNTests/Fixtures/make_optimizer_reference.py
"""
import json
import math
import os

import torch

START = [0.5, -1.0, 2.0, 0.0]
GRADIENTS = [[0.1, -0.2, 0.3, 0.0], [0.4, 0.1, -0.5, 0.2], [-0.3, 0.3, 0.1, -0.1]]


def trajectory(make):
    p = torch.nn.Parameter(torch.tensor(START))
    opt = make([p])
    out = []
    for g in GRADIENTS:
        p.grad = torch.tensor(g)
        opt.step()
        out.append([float(v) for v in p.detach()])
    return out


optimizers = {
    "sgd": (lambda ps: torch.optim.SGD(ps, lr=0.1), {"lr": 0.1}),
    "sgd_momentum_wd": (lambda ps: torch.optim.SGD(ps, lr=0.1, momentum=0.9, weight_decay=0.01),
                        {"lr": 0.1, "momentum": 0.9, "weight_decay": 0.01}),
    "sgd_nesterov": (lambda ps: torch.optim.SGD(ps, lr=0.05, momentum=0.8, nesterov=True),
                     {"lr": 0.05, "momentum": 0.8, "nesterov": True}),
    "adam": (lambda ps: torch.optim.Adam(ps, lr=0.01), {"lr": 0.01}),
    "adam_l2": (lambda ps: torch.optim.Adam(ps, lr=0.01, weight_decay=0.1), {"lr": 0.01, "weight_decay": 0.1}),
    "adamw": (lambda ps: torch.optim.AdamW(ps, lr=0.01, weight_decay=0.1), {"lr": 0.01, "weight_decay": 0.1}),
}


def schedule(make, steps):
    p = torch.nn.Parameter(torch.zeros(1))
    opt = torch.optim.SGD([p], lr=0.1)
    sched = make(opt)
    rates = []
    for _ in range(steps):
        rates.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    return rates


def plateau(metrics):
    p = torch.nn.Parameter(torch.zeros(1))
    opt = torch.optim.SGD([p], lr=0.1)
    sched = torch.optim.lr_scheduler.ReduceLROnPlateau(opt, mode="min", factor=0.5, patience=2, cooldown=1)
    rates = []
    for m in metrics:
        sched.step(m)
        rates.append(opt.param_groups[0]["lr"])
    return rates


metrics = [1.0, 0.9, 0.95, 0.96, 0.97, 0.8, 0.85, 0.86, 0.87, 0.88, 0.89]
result = {
    "start": START,
    "gradients": GRADIENTS,
    "optimizers": {name: {"config": config, "trajectory": trajectory(make)} for name, (make, config) in optimizers.items()},
    "schedules": {
        "one_cycle_20": schedule(lambda o: torch.optim.lr_scheduler.OneCycleLR(o, max_lr=0.1, total_steps=20), 20),
        "step_3_0.5": schedule(lambda o: torch.optim.lr_scheduler.StepLR(o, step_size=3, gamma=0.5), 10),
    },
    "plateau": {"metrics": metrics, "rates": plateau(metrics), "config": {"factor": 0.5, "patience": 2, "cooldown": 1}},
    "torch": torch.__version__,
}
with open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "optimizer_reference.json"), "w") as f:
    json.dump(result, f, indent=1)
    f.write("\n")
print("wrote optimizer_reference.json")
