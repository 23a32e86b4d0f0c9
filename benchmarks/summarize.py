#!/usr/bin/env python3
"""Markdown table of one benchmarks/compare.sh run, from its JSON lines (standard library only).

Usage: python3 benchmarks/summarize.py [results/compare/runs.jsonl] [--run ID | --all]

Each line of the file is one process's last line of JSON (Canopy's `bench train|infer --json`,
bench_torch.py, bench_keras.py) with the "run" and "round" compare.sh adds, or a
{"status": "skipped"|"failed", "reason": ...} line compare.sh writes for a framework that did not run.
By default only the file's latest run is summarised (--run ID picks another, --all pools every run).
Per configuration and framework: the median images/s over the rounds (each round's figure in
parentheses), Canopy's ratio to Keras and to PyTorch (ratio of the medians), and the largest peak RSS.
"""
import argparse
import json
import statistics
import sys

FRAMEWORKS = [("canopy", "Canopy"), ("torch", "PyTorch"), ("keras-tensorflow", "Keras/TF")]


def mode_name(mode):
    return "infer" if mode in ("infer", "predict") else mode


def load(path):
    rows = []
    with open(path) as f:
        for number, line in enumerate(f, 1):
            line = line.strip()
            if not line.startswith("{"):
                continue
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError as e:
                print(f"summarize: {path}:{number}: not JSON ({e}), ignored", file=sys.stderr)
    return rows


def fmt(v):
    return f"{v:,.1f}" if v < 1000 else f"{v:,.0f}"


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("path", nargs="?", default="results/compare/runs.jsonl")
    group = ap.add_mutually_exclusive_group()
    group.add_argument("--run", help="the run ID to summarise (default: the file's latest)")
    group.add_argument("--all", action="store_true", help="pool every run in the file")
    a = ap.parse_args()

    rows = load(a.path)
    if not a.all:
        run = a.run or next((r["run"] for r in reversed(rows) if "run" in r), None)
        rows = [r for r in rows if r.get("run") == run]
    if not rows:
        sys.exit(f"summarize: no runs in {a.path}" + ("" if a.all else f" for run {a.run or '(latest)'}"))

    configs, cells, notes, versions, setups = [], {}, [], {}, set()
    for r in rows:
        key = (r.get("model"), r.get("size"), mode_name(r.get("mode")))
        if key not in configs:
            configs.append(key)
        cell = cells.setdefault((key, r.get("framework")), {"ips": [], "rss": [], "status": []})
        status = r.get("status", "ok")
        if status != "ok" or "images_per_second" not in r:
            cell["status"].append(status if status != "ok" else "failed")
            note = f"{r.get('framework')} {key[0]} {key[1]} {key[2]}: {status}" + (f" ({r['reason']})" if r.get("reason") else "")
            if note not in notes:
                notes.append(note)
            continue
        cell["ips"].append(float(r["images_per_second"]))
        if r.get("peak_rss_mb") is not None:
            cell["rss"].append(float(r["peak_rss_mb"]))
        if r.get("version"):
            versions[r["framework"]] = r["version"]
        setups.add((r.get("batch"), r.get("threads")))

    def median(key, fw):
        c = cells.get((key, fw))
        return statistics.median(c["ips"]) if c and c["ips"] else None

    def speed(key, fw):
        c = cells.get((key, fw))
        if not c:
            return "-"
        if not c["ips"]:
            return c["status"][0] if c["status"] else "-"
        m = statistics.median(c["ips"])
        each = ", ".join(fmt(v) for v in c["ips"])
        extra = f"; {len(c['status'])} {c['status'][0]}" if c["status"] else ""
        return f"**{fmt(m)}** ({each}{extra})" if len(c["ips"]) > 1 or extra else f"**{fmt(m)}**"

    def ratio(key, other):
        mine, theirs = median(key, "canopy"), median(key, other)
        return f"{mine / theirs:.2f}" if mine and theirs else "-"

    def rss(key, fw):
        c = cells.get((key, fw))
        return f"{max(c['rss']):,.0f}" if c and c["rss"] else "-"

    rounds = max((len(c["ips"]) + len(c["status"]) for c in cells.values()), default=0)
    setup = ", ".join(f"batch {b}, {t} threads" for b, t in sorted(setups, key=str)) or "-"
    print(f"Run {rows[-1].get('run', '(all)') if not a.all else '(all runs)'}: {setup}, up to {rounds} round(s); "
          "images/s = batch / median step time; median over rounds (each round in parentheses).")
    if versions:
        print("Versions: " + "; ".join(f"{fw}: {v}" for fw, v in versions.items()))
    print()
    head = ["config"] + [f"{name} img/s" for _, name in FRAMEWORKS] + ["Canopy/Keras", "Canopy/PyTorch"] \
        + [f"{name} peak RSS MB" for _, name in FRAMEWORKS]
    print("| " + " | ".join(head) + " |")
    print("|" + "---|" * len(head))
    for key in configs:
        line = [f"{key[0]} {key[1]} {key[2]}"] + [speed(key, fw) for fw, _ in FRAMEWORKS] \
            + [ratio(key, "keras-tensorflow"), ratio(key, "torch")] + [rss(key, fw) for fw, _ in FRAMEWORKS]
        print("| " + " | ".join(line) + " |")
    if notes:
        print()
        for note in notes:
            print(f"- {note}")


if __name__ == "__main__":
    main()
