#!/usr/bin/env python3
"""Would a per-chip expected-F2 decision beat per-label thresholds? A probe on a finished Canopy run.

    python expected_f2_probe.py RESULTS_DIR DATA_ROOT [--model resnet18]

Canopy's `expected_f2` rule (choose, for each chip, the labels that maximise the F2 expected under its
probabilities) needs calibrated probabilities, which balanced positive weights and label smoothing do
not give (a negative chip's rare-label probabilities sit near 0.2). This probe first calibrates each
label by Platt scaling (a logistic regression on the logit, fitted on the out-of-fold chips with
Platt's smoothed targets), then decides each chip by the top-k set of highest expected F2 under label
independence (exact, by the Poisson-binomial distributions of the true positives inside and outside
the set). Prints the out-of-fold and test mean F2 of Canopy's chosen thresholds
(RESULTS_DIR/thresholds.json), of calibrated p >= 0.5, and of the calibrated expected-F2 decision
(its out-of-fold figure is in-sample for the calibration). Needs numpy only (docs/QUALITY.md).
"""
import json
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from stacking_probe import LABELS, logit, mean_f2, run_from_arguments  # noqa: E402


def platt(p, y, iterations=50):
    """(a, b) of sigmoid(a·logit(p) + b), by Newton's method on Platt's smoothed targets."""
    x = logit(p)
    positives = y.sum()
    negatives = len(y) - positives
    t = np.where(y > 0, (positives + 1) / (positives + 2), 1 / (negatives + 2))
    a, b = 1.0, 0.0
    for _ in range(iterations):
        q = 1 / (1 + np.exp(-np.clip(a * x + b, -50, 50)))
        gradient = np.array([((q - t) * x).sum(), (q - t).sum()])
        w = q * (1 - q) + 1e-9
        hessian = np.array([[(w * x * x).sum() + 1e-6, (w * x).sum()], [(w * x).sum(), w.sum() + 1e-6]])
        step = np.linalg.solve(hessian, gradient)
        a, b = a - step[0], b - step[1]
    return a, b


def calibrated(p, ab):
    return np.stack([1 / (1 + np.exp(-np.clip(a * logit(p[:, j]) + b, -50, 50))) for j, (a, b) in enumerate(ab)], 1)


def poisson_binomial(ps):
    d = np.zeros(len(ps) + 1)
    d[0] = 1
    for p in ps:
        d[1:] = d[1:] * (1 - p) + d[:-1] * p
        d[0] *= 1 - p
    return d


def expected_f2_decisions(P):
    """For each chip, the top-k labels (k = 0...17) of highest expected F2 = E[5·TP / (4·(TP + FN) + k)]."""
    out = np.zeros_like(P)
    for i, p in enumerate(P):
        order = np.argsort(-p)
        best, best_k = -1.0, 0
        for k in range(len(LABELS) + 1):
            inside, outside = poisson_binomial(p[order[:k]]), poisson_binomial(p[order[k:]])
            a = np.arange(len(inside))[:, None]
            b = np.arange(len(outside))[None, :]
            denominator = 4 * a + 4 * b + k
            value = np.where(denominator > 0, 5 * a / np.maximum(denominator, 1), 1.0)
            expected = (inside[:, None] * outside[None, :] * value).sum()
            if expected > best:
                best, best_k = expected, k
        out[i, order[:best_k]] = 1
    return out


def main():
    args, (oof, y_oof, test, y_test) = run_from_arguments(__doc__)
    decision = json.load(open(f"{args.results}/thresholds.json"))["chosen"]["decision"]
    thresholds = np.array(decision.get("thresholds", [decision.get("threshold", 0.5)] * len(LABELS)))
    print(f"Canopy's chosen rule ({decision['method']}): out-of-fold {mean_f2((oof >= thresholds) * 1.0, y_oof):.5f}, "
          f"test {mean_f2((test >= thresholds) * 1.0, y_test):.5f}")
    ab = [platt(oof[:, j], y_oof[:, j]) for j in range(len(LABELS))]
    c_oof, c_test = calibrated(oof, ab), calibrated(test, ab)
    print(f"calibrated p >= 0.5: out-of-fold {mean_f2((c_oof >= 0.5) * 1.0, y_oof):.5f}, "
          f"test {mean_f2((c_test >= 0.5) * 1.0, y_test):.5f}")
    print(f"calibrated expected F2: out-of-fold (in-sample) {mean_f2(expected_f2_decisions(c_oof), y_oof):.5f}, "
          f"test {mean_f2(expected_f2_decisions(c_test), y_test):.5f}")


if __name__ == "__main__":
    main()
