"""Reads a Canopy run back through MLflow's own Python client and compares it with the results folder.

Used by scripts/mlflow-check.sh (which says how to set up the venv with mlflow). Two commands:

  mlflow_check.py compare URI RUN_ID RESULTS   the MLflow run's parameters, metric histories, final
                                               metrics, artifacts and status against RESULTS/config.json,
                                               train_log.csv, metrics.json and the files themselves
  mlflow_check.py same RESULTS_A RESULTS_B     two runs computed the same: submission.csv bytes,
                                               thresholds.json bytes, metrics.json and train_log.csv
                                               without their timings

Exit status 0 when everything matches; each mismatch is printed.
"""
import csv
import json
import os
import re
import sys
import tempfile

PROBLEMS = []


def problem(text):
    PROBLEMS.append(text)
    print("MISMATCH: " + text)


def flatten(value, path=""):
    """config.json as Canopy sends it: nested keys joined by '.', list items by index."""
    if isinstance(value, dict):
        if not value:
            yield path, {}
        for key, item in value.items():
            yield from flatten(item, key if not path else path + "." + key)
    elif isinstance(value, list):
        if not value:
            yield path, []
        for index, item in enumerate(value):
            yield from flatten(item, path + "." + str(index))
    else:
        yield path, value


def same_param(text, value):
    """A parameter's text against config.json's value (numbers by value, strings as they are)."""
    if isinstance(value, bool):
        return text == ("true" if value else "false")
    if value is None:
        return text == "null"
    if isinstance(value, (int, float)):
        try:
            return float(text) == float(value)
        except ValueError:
            return False
    if value == {} or value == []:
        return text == json.dumps(value)
    return text == value


def metric_name(name):
    """As Canopy's MLflowTracker.metricName: runs of other characters become one "_", dropped at the ends."""
    outside = r"[^A-Za-z0-9_\-.]+"
    return re.sub(outside, "_", re.sub(f"^{outside}|{outside}$", "", name)) or "_"


def expected_histories(results, config):
    """train_log.csv as metric histories: {key: [(step, value)]}, exactly as the cells are written."""
    refit_fold = config["folds"]["k"] if config["folds"].get("refit") else None
    histories = {}
    with open(os.path.join(results, "train_log.csv"), newline="") as handle:
        for row in csv.DictReader(handle):
            fold = int(row["fold"])
            unit = metric_name(row["model"]) + ("/refit" if fold == refit_fold else "/fold-%d" % fold)
            swa = row["epoch"] == "swa"
            step = 0 if swa else int(row["epoch"])
            for column, cell in row.items():
                if column in ("model", "fold", "epoch") or cell in ("", None):
                    continue
                value = float(cell)
                if value != value or value in (float("inf"), float("-inf")):
                    continue
                key = unit + "/" + ("swa_" if swa else "") + metric_name(column)
                histories.setdefault(key, []).append((step, value))
    return histories


def expected_final(results):
    """metrics.json's summary numbers as Canopy names them (MLflowTracker.finalMetrics)."""
    with open(os.path.join(results, "metrics.json")) as handle:
        report = json.load(handle)
    used, out = set(), {}

    def unique(base):
        name, n = base, 2
        while name in used:
            name, n = base + "_%d" % n, n + 1
        used.add(name)
        return name

    for section in report["sections"]:
        base = unique("final/" + metric_name(section["name"]))
        for name, field in (("mean_f2", "meanF2"), ("micro_f2", "microF2"), ("macro_f2", "macroF2")):
            out[base + "/" + name] = float(section[field])
    for method in report["methods"]:
        base = unique("final/method/" + metric_name(method["method"]))
        out[base + "/oof_mean_f2"] = float(method["outOfFoldMeanF2"])
        if method.get("testMeanF2") is not None:
            out[base + "/test_mean_f2"] = float(method["testMeanF2"])
    return out


ARTIFACTS = ["report.html", "submission.csv", "metrics.json", "thresholds.json", "config.json", "train_log.csv"]


def compare(uri, run_id, results):
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=uri)
    run = client.get_run(run_id)
    with open(os.path.join(results, "config.json")) as handle:
        config = json.load(handle)
    experiment = client.get_experiment(run.info.experiment_id)
    print("run %s in experiment %r: status %s" % (run_id, experiment.name, run.info.status))
    if run.info.status != "FINISHED":
        problem("status %s, not FINISHED" % run.info.status)

    # Parameters: config.json flattened.
    expected = dict(flatten(config))
    params = run.data.params
    if set(params) != set(expected):
        problem("parameter keys differ: only in MLflow %s, only in config.json %s"
                % (sorted(set(params) - set(expected)), sorted(set(expected) - set(params))))
    wrong = [key for key in expected if key in params and not same_param(params[key], expected[key])]
    for key in wrong:
        problem("parameter %s = %r, config.json has %r" % (key, params[key], expected[key]))
    print("parameters: %d of config.json's %d values, %d differ" % (len(params), len(expected), len(wrong)))

    # Metric histories: every train_log.csv cell, step = epoch.
    histories = expected_histories(results, config)
    points = 0
    for key, want in sorted(histories.items()):
        got = sorted((m.step, m.value) for m in client.get_metric_history(run_id, key))
        points += len(got)
        if got != sorted(want):
            problem("history %s: MLflow %s, train_log.csv %s" % (key, got, sorted(want)))
    print("metric histories: %d keys, %d points from train_log.csv, MLflow has %d points" % (
        len(histories), sum(len(v) for v in histories.values()), points))

    # Final metrics: metrics.json.
    final = expected_final(results)
    for key, value in sorted(final.items()):
        history = client.get_metric_history(run_id, key)
        if [(m.step, m.value) for m in history] != [(0, value)]:
            problem("final %s: MLflow %s, metrics.json %r" % (key, [(m.step, m.value) for m in history], value))
    extra = set(run.data.metrics) - set(histories) - set(final)
    if extra:
        problem("metrics in MLflow from neither file: %s" % sorted(extra))
    missing = (set(histories) | set(final)) - set(run.data.metrics)
    if missing:
        problem("metrics missing in MLflow: %s" % sorted(missing))
    print("final metrics: %d from metrics.json, e.g. %s" % (
        len(final), ", ".join("%s=%s" % (k, run.data.metrics.get(k)) for k in sorted(final) if k.endswith("/mean_f2"))[:300]))

    # Artifacts: downloaded through the server, byte for byte.
    listed = sorted(f.path for f in client.list_artifacts(run_id))
    want = sorted(name for name in ARTIFACTS if os.path.exists(os.path.join(results, name)))
    if listed != want:
        problem("artifacts: MLflow lists %s, the results folder has %s" % (listed, want))
    with tempfile.TemporaryDirectory() as folder:
        for name in want:
            path = client.download_artifacts(run_id, name, folder)
            with open(path, "rb") as a, open(os.path.join(results, name), "rb") as b:
                got, local = a.read(), b.read()
            if got != local:
                problem("artifact %s: %d bytes in MLflow, %d in the results folder, not the same" % (name, len(got), len(local)))
    print("artifacts: %s (%s)" % (", ".join(listed), "byte for byte" if listed == want else "NOT the files"))


def without_timings(value):
    if isinstance(value, dict):
        return {k: without_timings(v) for k, v in value.items() if k != "seconds"}
    if isinstance(value, list):
        return [without_timings(v) for v in value]
    return value


def same(a, b):
    for name in ("submission.csv", "thresholds.json"):
        with open(os.path.join(a, name), "rb") as x, open(os.path.join(b, name), "rb") as y:
            if x.read() != y.read():
                problem("%s differs" % name)
    with open(os.path.join(a, "metrics.json")) as x, open(os.path.join(b, "metrics.json")) as y:
        if without_timings(json.load(x)) != without_timings(json.load(y)):
            problem("metrics.json differs (timings aside)")
    timing = {"seconds", "images_per_second", "loader_wait_seconds"}
    logs = []
    for folder in (a, b):
        with open(os.path.join(folder, "train_log.csv"), newline="") as handle:
            logs.append([{k: v for k, v in row.items() if k not in timing} for row in csv.DictReader(handle)])
    if logs[0] != logs[1]:
        problem("train_log.csv differs (timings aside)")
    print("same results: submission.csv and thresholds.json byte for byte, metrics.json and train_log.csv but for timings: %s"
          % ("yes" if not PROBLEMS else "NO"))


if __name__ == "__main__":
    if len(sys.argv) == 5 and sys.argv[1] == "compare":
        compare(*sys.argv[2:])
    elif len(sys.argv) == 4 and sys.argv[1] == "same":
        same(*sys.argv[2:])
    else:
        sys.exit(__doc__)
    sys.exit(1 if PROBLEMS else 0)
