"""Reference numbers for Tests/TrainingTests/TrainerBehaviourTests.swift, computed with PyTorch.

Run from the repository root:

    .venv-torch/bin/python Tests/TrainingTests/Fixtures/make_trainer_reference.py

It prints Swift literals; the test embeds them (it never runs Python). Canopy's losses take logits
label-major, [L, N] (labels x images); torch's BCEWithLogitsLoss wants [N, L], hence the transposes.
Everything is computed in float64 from float32-exact inputs.
"""
import torch

torch.set_default_dtype(torch.float64)


def swift(values):
    return "[" + ", ".join(repr(float(v)) for v in values) + "]"


# --- Losses ---------------------------------------------------------------------------------------
# 5 labels x 5 images; image 4 has no positive label; +-40 checks the stable form of BCE.
logits = torch.tensor([
    [2.0, -1.5, 0.25, 40.0, -2.0],
    [-3.0, 0.5, -0.75, 1.25, 1.0],
    [0.0, 4.5, -2.25, -40.0, 0.5],
    [1.75, -0.5, 3.0, -6.0, -0.25],
    [-1.0, 2.5, 0.75, 0.125, 3.0],
])
targets = torch.tensor([
    [1.0, 0.0, 1.0, 0.0, 0.0],
    [0.0, 1.0, 0.0, 1.0, 0.0],
    [1.0, 1.0, 0.0, 1.0, 0.0],
    [0.0, 0.0, 1.0, 0.0, 0.0],
    [1.0, 0.0, 0.0, 1.0, 0.0],
])
pos_weight = torch.tensor([1.0, 2.5, 1.75, 10.0, 0.5])
print("logits", swift(logits.flatten()))
print("targets", swift(targets.flatten()))
print("pos_weight", swift(pos_weight))


def bce(x, pw):
    # [L, N] -> [N, L]; pos_weight broadcasts over the last (label) dimension.
    return torch.nn.BCEWithLogitsLoss(pos_weight=pw)(x.t(), targets.t())


def soft_f2(x, eps=1e-7):
    # The formula documented in Sources/Tensor/Kernels/Losses.swift: per image (column),
    # tp = sum s*y, fp = sum s*(1-y), fn = sum (1-s)*y, F2 = 5tp / (5tp + 4fn + fp + eps); loss = 1 - mean F2.
    s = torch.sigmoid(x)
    tp = (s * targets).sum(0)
    fp = (s * (1 - targets)).sum(0)
    fn = ((1 - s) * targets).sum(0)
    f2 = 5 * tp / (5 * tp + 4 * fn + fp + eps)
    return 1 - f2.mean()


for name, fn in [
    ("bce (no weights)", lambda x: bce(x, None)),
    ("bce pos_weight", lambda x: bce(x, pos_weight)),
    ("soft_f2", soft_f2),
    ("bce pos_weight + soft_f2 (mean)", lambda x: (bce(x, pos_weight) + soft_f2(x)) / 2),
]:
    x = logits.clone().requires_grad_(True)
    loss = fn(x)
    loss.backward()
    print(name, "loss", repr(loss.item()))
    print(name, "gradient", swift(x.grad.flatten()))

# --- Gradient clipping ------------------------------------------------------------------------------
a = torch.zeros(2, requires_grad=True)
b = torch.zeros(1, 3, requires_grad=True)
a.grad = torch.tensor([3.0, -4.0])
b.grad = torch.tensor([[12.0, 0.0, -0.5]])
norm = torch.nn.utils.clip_grad_norm_([a, b], max_norm=6.5)
print("clip norm before", repr(norm.item()))
print("clip a", swift(a.grad), "b", swift(b.grad.flatten()))
print("clip norm after", repr(torch.sqrt(a.grad.pow(2).sum() + b.grad.pow(2).sum()).item()))

# --- Schedules ------------------------------------------------------------------------------------
def rates(make_scheduler, steps, metrics=None, lr=0.1):
    p = torch.zeros(1, requires_grad=True)
    optimizer = torch.optim.SGD([p], lr=lr, momentum=0.9)
    scheduler = make_scheduler(optimizer)
    out = []
    for i in range(steps):
        out.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        if metrics is None:
            scheduler.step()
        else:
            scheduler.step(metrics[i])
    return out

# StepLR, stepped once per epoch: the rate of epochs 0...5.
print("StepLR(step_size=2, gamma=0.5), base 0.1, epochs 0..5", swift(rates(lambda o: torch.optim.lr_scheduler.StepLR(o, 2, 0.5), 6)))
# OneCycleLR, stepped once per optimiser step: 10 steps (5 epochs of 2 batches), max_lr 0.1.
print("OneCycleLR(max_lr=0.1, total_steps=10)", swift(rates(lambda o: torch.optim.lr_scheduler.OneCycleLR(o, 0.1, total_steps=10), 10)))
p = torch.zeros(1, requires_grad=True)
o = torch.optim.SGD([p], lr=0.1, momentum=0.9)
s = torch.optim.lr_scheduler.OneCycleLR(o, 0.1, total_steps=10)
moms = []
for _ in range(10):
    moms.append(o.param_groups[0]["momentum"]); o.step(); s.step()
print("OneCycleLR momentum (cycled by torch, not by Canopy)", swift(moms))
# ReduceLROnPlateau: the rate used in each epoch, stepped with that epoch's metric afterwards.
metrics = [1.0, 0.99995, 0.9, 0.95, 0.95, 0.8999, 0.95, 0.95, 0.95, 0.95, 0.5]
print("metrics", swift(metrics))
print("ReduceLROnPlateau(factor=0.5, patience=1), base 0.1",
      swift(rates(lambda o: torch.optim.lr_scheduler.ReduceLROnPlateau(o, factor=0.5, patience=1), len(metrics), metrics)))
print("ReduceLROnPlateau(factor=0.5, patience=1, cooldown=1, min_lr=0.04), base 0.1",
      swift(rates(lambda o: torch.optim.lr_scheduler.ReduceLROnPlateau(o, factor=0.5, patience=1, cooldown=1, min_lr=0.04),
                  len(metrics), metrics)))
rising = [0.7 + 0.01 * i for i in range(7)]
print("ReduceLROnPlateau(factor=0.5, patience=1), base 0.1, a rising metric, epochs 1..7",
      swift(rates(lambda o: torch.optim.lr_scheduler.ReduceLROnPlateau(o, factor=0.5, patience=1), 7, rising)))
