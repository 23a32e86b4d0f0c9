#!/usr/bin/env python3
"""Would stacking on the label co-occurrence help one model? A probe on a finished Canopy run.

    python stacking_probe.py RESULTS_DIR DATA_ROOT [--model resnet18]

Reads RESULTS_DIR/predictions/MODEL-oof.csv and MODEL-test.csv, the truth of the out-of-fold chips
(DATA_ROOT/train_v2.csv) and of the test chips (DATA_ROOT/test_labels.csv, synthetic data only).
For each label fits an L2 logistic regression on the logits of all 17 labels (the co-occurrence:
cloudy excludes the ground labels, primary is on almost every clear chip, ...), cross-fitted over 5
random inner folds of the out-of-fold chips for honest out-of-fold probabilities and refitted on all
of them for the test chips; thresholds per label by coordinate ascent on the out-of-fold mean F2
(labels with under 20 positives keep the global one), as Canopy's per_label rule. Prints out-of-fold
and test mean F2 and test macro F2, without and with stacking, and what each label would add to the
test mean F2 if it were perfect (where the errors are). Needs numpy only (docs/QUALITY.md).
"""
import argparse
import csv

import numpy as np

LABELS = ["agriculture", "artisinal_mine", "bare_ground", "blooming", "blow_down", "clear", "cloudy",
          "conventional_mine", "cultivation", "habitation", "haze", "partly_cloudy", "primary", "road",
          "selective_logging", "slash_burn", "water"]


def probabilities(path):
    rows = list(csv.reader(open(path)))
    assert rows[0][1:] == LABELS, f"{path}: unexpected header"
    return [r[0] for r in rows[1:]], np.array([[float(v) for v in r[1:]] for r in rows[1:]])


def truth(path):
    return {r[0]: np.array([1.0 if l in r[1].split() else 0.0 for l in LABELS]) for r in list(csv.reader(open(path)))[1:]}


def mean_f2(predicted, y):
    tp = (predicted * y).sum(1)
    fp = (predicted * (1 - y)).sum(1)
    fn = ((1 - predicted) * y).sum(1)
    return np.where(tp > 0, 5 * tp / np.maximum(5 * tp + 4 * fn + fp, 1e-9), 0).mean()


def macro_f2(predicted, y):
    scores = []
    for l in range(len(LABELS)):
        if y[:, l].sum() == 0:
            continue
        tp = (predicted[:, l] * y[:, l]).sum()
        fp = (predicted[:, l] * (1 - y[:, l])).sum()
        fn = ((1 - predicted[:, l]) * y[:, l]).sum()
        scores.append(5 * tp / (5 * tp + 4 * fn + fp) if tp > 0 else 0)
    return float(np.mean(scores))


def per_label_thresholds(p, y, minimum_support=20, rounds=3):
    grid = np.arange(1, 100) / 100
    flat = max(grid, key=lambda g: mean_f2(p >= g, y))
    t = np.full(len(LABELS), flat)
    for _ in range(rounds):
        for l in range(len(LABELS)):
            if y[:, l].sum() < minimum_support:
                continue
            scores = []
            for g in grid:
                trial = t.copy()
                trial[l] = g
                scores.append(mean_f2(p >= trial, y))
            t[l] = grid[int(np.argmax(scores))]
    return t


def logit(p):
    p = np.clip(p, 1e-6, 1 - 1e-6)
    return np.log(p / (1 - p))


def fit_logistic(x, y, lam, iterations=50):
    w = np.zeros(x.shape[1])
    shrink = np.r_[np.ones(len(w) - 1), 0]  # the bias is not shrunk
    for _ in range(iterations):  # Newton's method
        p = 1 / (1 + np.exp(-(x @ w)))
        gradient = x.T @ (p - y) + lam * shrink * w
        hessian = x.T @ (x * (p * (1 - p))[:, None]) + lam * np.diag(shrink)
        w -= np.linalg.solve(hessian, gradient)
    return w


def stack(oof, y, test, lam, folds=5, seed=0):
    xo = np.c_[logit(oof), np.ones(len(oof))]
    xt = np.c_[logit(test), np.ones(len(test))]
    fold = np.random.RandomState(seed).randint(0, folds, len(oof))
    so, st = oof.copy(), test.copy()
    for l in range(len(LABELS)):
        if y[:, l].sum() < 3:
            continue
        for k in range(folds):
            w = fit_logistic(xo[fold != k], y[fold != k, l], lam)
            so[fold == k, l] = 1 / (1 + np.exp(-(xo[fold == k] @ w)))
        st[:, l] = 1 / (1 + np.exp(-(xt @ fit_logistic(xo, y[:, l], lam))))
    return so, st


def run_tables(results, root, model):
    """(oof, y_oof, test, y_test): a finished run's out-of-fold and test probabilities of MODEL, and
    their truth, row by row."""
    oof_names, oof = probabilities(f"{results}/predictions/{model}-oof.csv")
    test_names, test = probabilities(f"{results}/predictions/{model}-test.csv")
    train_truth, test_truth = truth(f"{root}/train_v2.csv"), truth(f"{root}/test_labels.csv")
    return oof, np.array([train_truth[n] for n in oof_names]), test, np.array([test_truth[n] for n in test_names])


def run_from_arguments(doc):
    """(args, (oof, y_oof, test, y_test)): a probe's command line (RESULTS ROOT [--model NAME], DOC's
    first line as its description) and the tables of the run it names."""
    parser = argparse.ArgumentParser(description=doc.split("\n")[0])
    parser.add_argument("results")
    parser.add_argument("root")
    parser.add_argument("--model", default="resnet18")
    args = parser.parse_args()
    return args, run_tables(args.results, args.root, args.model)


def main():
    _, (oof, yo, test, yt) = run_from_arguments(__doc__)
    t = per_label_thresholds(oof, yo)
    print("no stacking:        oof %.4f  test %.4f  test macro %.4f" % (mean_f2(oof >= t, yo), mean_f2(test >= t, yt), macro_f2(test >= t, yt)))
    for lam in [0.1, 1, 10]:
        so, st = stack(oof, yo, test, lam)
        ts = per_label_thresholds(so, yo)
        print("stacked, lambda %-4g oof %.4f  test %.4f  test macro %.4f" % (lam, mean_f2(so >= ts, yo), mean_f2(st >= ts, yt), macro_f2(st >= ts, yt)))
    decided = (test >= t).astype(float)
    base = mean_f2(decided, yt)
    print("test mean F2 gained if one label were perfect:")
    for l in range(len(LABELS)):
        fixed = decided.copy()
        fixed[:, l] = yt[:, l]
        print("  %-18s +%.4f  (%d test chips)" % (LABELS[l], mean_f2(fixed, yt) - base, yt[:, l].sum()))


if __name__ == "__main__":
    main()
