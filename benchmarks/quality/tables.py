#!/usr/bin/env python3
"""Issue 19's per-seed tables from the runs `run.sh` left, as Markdown for docs/QUALITY.md.

    python tables.py [--out results/quality] SEED [SEED ...]

For each seed, reads OUT/seed-SEED/{canopy,torch,keras}/submission.csv (those present), scores each
against OUT/seed-SEED/data/test_labels.csv with f2_score.py's functions, and prints:
  - a table of system, wall time (OUT/seed-SEED/NAME.seconds), mean, micro and macro F2;
  - Canopy's margin over the better peer on mean F2 and on macro F2 (the issue's +0.01 and +0.05);
  - the per-label F2 table (test support in brackets), the systems side by side.
Needs only numpy.
"""
import argparse
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from f2_score import LABELS, f2_per_row, per_label, read_tags_csv, to_matrix  # noqa: E402

SYSTEMS = [("canopy", "Canopy `synth-benchmark.yaml`"), ("torch", "PyTorch reference"), ("keras", "Keras/TensorFlow reference")]


def score(submission, truth):
    t_names, t_tags, _ = read_tags_csv(truth)
    _, s_tags, _ = read_tags_csv(submission)
    y_true = to_matrix(t_names, t_tags, LABELS)
    y_pred = to_matrix(t_names, {n: s_tags.get(n, []) for n in t_names}, LABELS)
    labels = per_label(y_true, y_pred, LABELS)
    tp = int((y_true & y_pred).sum()); fp = int((~y_true & y_pred).sum()); fn = int((y_true & ~y_pred).sum())
    return {
        "mean": float(f2_per_row(y_true, y_pred).mean()),
        "micro": 5 * tp / (5 * tp + 4 * fn + fp) if tp else 0.0,
        "macro": float(np.mean([r["f2"] for r in labels if r["support"] > 0])),
        "labels": labels,
    }


def wall(path):
    try:
        seconds = int(open(path).read().split()[0])
    except (OSError, ValueError, IndexError):
        return "—"
    return f"{seconds // 60} min {seconds % 60:02d} s"


def seed_tables(out, seed):
    folder = os.path.join(out, f"seed-{seed}")
    truth = os.path.join(folder, "data", "test_labels.csv")
    if not os.path.exists(truth):
        return f"seed {seed}: no {truth}\n"
    runs = {}
    for name, _ in SYSTEMS:
        submission = os.path.join(folder, name, "submission.csv")
        if os.path.exists(submission):
            runs[name] = score(submission, truth)
    lines = [f"### Seed {seed}", "", "| system | wall | test mean F2 | micro F2 | macro F2 |", "| --- | --- | ---: | ---: | ---: |"]
    for name, title in SYSTEMS:
        if name in runs:
            r = runs[name]
            lines.append(f"| {title} | {wall(os.path.join(folder, name + '.seconds'))} | {r['mean']:.4f} | {r['micro']:.4f} | {r['macro']:.4f} |")
    peers = [runs[p] for p in ("torch", "keras") if p in runs]
    if "canopy" in runs and peers:
        best_mean = max(p["mean"] for p in peers)
        best_macro = max(p["macro"] for p in peers)
        c = runs["canopy"]
        lines += ["", f"Canopy against the better peer: mean F2 {c['mean'] - best_mean:+.4f} (goal +0.01), "
                      f"macro F2 {c['macro'] - best_macro:+.4f} (goal +0.05)"
                      + ("" if len(peers) == 2 else f"; only {len(peers)} peer run so far") + "."]
    present = [name for name, _ in SYSTEMS if name in runs]
    if not present:
        return "\n".join(lines[:1] + ["", "no submission yet"]) + "\n"
    lines += ["", "| label (test support) | " + " | ".join(present) + " |", "| --- |" + " ---: |" * len(present)]
    for j, label in enumerate(LABELS):
        support = runs[present[0]]["labels"][j]["support"]
        lines.append(f"| {label} ({support}) | " + " | ".join(f"{runs[n]['labels'][j]['f2']:.4f}" for n in present) + " |")
    return "\n".join(lines) + "\n"


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default="results/quality", help="run.sh's OUT (default results/quality)")
    ap.add_argument("seeds", nargs="+", type=int)
    a = ap.parse_args()
    print("\n".join(seed_tables(a.out, seed) for seed in a.seeds))


if __name__ == "__main__":
    main()
