#!/usr/bin/env python3
"""Expected speed-up of `mpirun -np N canopy run` (docs/DISTRIBUTED.md, "Scaling model").

mode: data (weak scaling: each rank keeps a batch of 32, batch_size = 32·N): a step is the compute of
one machine, t_c, plus the part of the gradient exchange the backward pass does not hide. The
gradients (S bytes) go in DDP-style buckets; the first is ready after a fraction r of the backward
pass (t_b) and its ring allreduce overlaps the rest; the last bucket holds the first layers (conv1)
and is summed after backward ends, fully exposed. A ring allreduce of s bytes over N ranks at B
bytes/s with per-message latency a: 2(N-1)/N · s/B + 2(N-1)·a.

mode: folds: J equal (model, fold) jobs over N ranks, longest first: ceil(J/N) rounds of one job's
time; no exchange beyond the shared filesystem. Speed-up J / ceil(J/N).

Inputs (measured on this machine, 2 cores, ResNet-18 at 128 px, batch 32; see docs/DISTRIBUTED.md):
"""
import math
import sys

T_COMPUTE = 0.884        # s per step of 32 images, 1 process x 2 threads (canopy bench train: 36.2 images/s)
BACKWARD_SHARE = 0.70    # backward's share of a step (canopy bench train --profile: 1252 of 1774 ms in layers)
FIRST_READY = 0.14       # share of backward done when the first 25 MB bucket (fc, layer4.1) is ready
S_TOTAL = 44.7e6         # bytes of ResNet-18's gradients (11,185,233 floats)
S_LAST = 25.8e6          # bytes of the last bucket (layer4.0.conv2 down to conv1)
LATENCY = 50e-6          # s per message hop (TCP between machines; an assumption, not measured here)
JOBS = 5                 # (model, fold) jobs: one model, 5 folds


def ring(size, ranks, bandwidth):
    return 2 * (ranks - 1) / ranks * size / bandwidth + 2 * (ranks - 1) * LATENCY


def data_speedup(ranks, gbit, overlap=True):
    bandwidth = gbit * 1e9 / 8
    backward = BACKWARD_SHARE * T_COMPUTE
    if overlap:
        hidden_window = (1 - FIRST_READY) * backward
        exposed = ring(S_LAST, ranks, bandwidth) + max(0.0, ring(S_TOTAL - S_LAST, ranks, bandwidth) - hidden_window)
    else:
        exposed = ring(S_TOTAL, ranks, bandwidth)
    return ranks * T_COMPUTE / (T_COMPUTE + exposed), exposed


def folds_speedup(ranks):
    return JOBS / math.ceil(JOBS / ranks)


def main():
    ranks = [2, 4, 8, 16, 32, 64]
    print("| machines | folds (5 jobs) | data 1 Gbit/s | data 10 Gbit/s | data 25 Gbit/s | data 10 Gbit/s, no overlap |")
    print("| --- | --- | --- | --- | --- | --- |")
    for n in ranks:
        cells = [f"{folds_speedup(n):.2f}x"]
        for gbit in (1, 10, 25):
            s, exposed = data_speedup(n, gbit)
            cells.append(f"{s:.2f}x ({exposed * 1000:.0f} ms)")
        s, exposed = data_speedup(n, 10, overlap=False)
        cells.append(f"{s:.2f}x ({exposed * 1000:.0f} ms)")
        print(f"| {n} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    sys.exit(main())
