#!/usr/bin/env python3
"""The kill loop of scripts/kill-resume-test.sh (run that, not this).

Kills a pipeline run with SIGKILL at KILLS moments spread over all seven stages, in stage order,
restarting it after each kill; after every kill, every file in the results folder must read whole
(scripts/check-results.py). Two kinds of moment:

- timed: in the training stage (a minute long), SIGKILL from outside at a random delay after the
  stage starts, wherever the run happens to be (a GEMM, a decode, a checkpoint write);
- crash point: every other stage lasts milliseconds, too short for a timer, so the run is told
  (CANOPY_CRASH_AT=STAGE:N, see Sources/Support/CrashPoints.swift) to SIGKILL itself at the N-th
  step of a durable write in that stage (temporary file opened, written, flushed, renamed), N drawn
  at random from the points that stage passes in an uninterrupted run. Training gets some too.

usage: kill-resume-test.py CANOPY PIPELINE RESULTS KILLS SEED POINTS_LIST
"""
import collections, os, random, re, signal, subprocess, sys, threading, time

sys.path.insert(0, os.path.dirname(__file__))
check_results = __import__("check-results")

STAGES = ["prepare", "train", "predict", "ensemble", "tune", "submit", "report"]


def plan(kills, points, rng):
    """(stage, kind, value) in stage order: training gets a third of the kills, half of them timed."""
    train = max(2, kills // 3)
    others = [s for s in STAGES if s != "train"]
    share = {s: 0 for s in STAGES}
    share["train"] = train
    for i in range(kills - train):
        share[others[i % len(others)]] += 1
    moments = []
    for stage in STAGES:
        for i in range(share[stage]):
            if stage == "train" and i % 2 == 0:
                moments.append((stage, "timed", round(rng.uniform(0.5, 8.0), 2)))
            elif stage == "train":
                # Early points only: a resumed run may have few epochs left to write.
                moments.append((stage, "point", rng.randint(1, 12)))
            else:
                # Not the stage's last point: the rename of stages.json that marks it done (a kill
                # there is a kill before the next stage's first point).
                moments.append((stage, "point", rng.randint(1, points[stage] - 1)))
    return moments


def run_until(canopy, pipeline, results, stage, kind, value):
    """Starts the run, kills it as planned; returns (exit status, where the kill landed)."""
    env = dict(os.environ)
    if kind == "point":
        env["CANOPY_CRASH_AT"] = f"{stage}:{value}"
    process = subprocess.Popen([canopy, "run", pipeline, "--results", results], env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    last = {"stage": "start", "line": ""}
    timer = None

    def read_stdout():
        nonlocal timer
        for line in process.stdout:
            match = re.match(r"\[[0-9:]+\] (\w+)", line)
            if match:
                last["stage"] = match.group(1)
                if kind == "timed" and match.group(1) == stage and timer is None:
                    timer = threading.Timer(value, lambda: process.send_signal(signal.SIGKILL))
                    timer.start()
            elif line.strip():
                last["line"] = line.strip()

    reader = threading.Thread(target=read_stdout)
    reader.start()
    stderr = process.stderr.read()
    status = process.wait()
    reader.join()
    if timer:
        timer.cancel()
    landed = re.search(r"crash point (\S+) (.*): SIGKILL", stderr)
    if landed:
        where = f"{landed.group(1)} ({os.path.relpath(landed.group(2), results) if landed.group(2).startswith('/') else landed.group(2)})"
    else:
        where = f"{last['stage']} ({last['line'][:70]})"
    return status, where, stderr


def main():
    canopy, pipeline, results, kills, seed, points_list = sys.argv[1:7]
    rng = random.Random(int(seed))
    points = collections.Counter(re.match(r"crash point (\w+):", line).group(1)
                                 for line in open(points_list) if line.startswith("crash point "))
    moments = plan(int(kills), points, rng)
    print(f"killed run: {len(moments)} SIGKILLs, in stage order; crash points per stage in an "
          f"uninterrupted run: {', '.join(f'{s} {points[s]}' for s in STAGES)}")
    landed = collections.Counter()
    for number, (stage, kind, value) in enumerate(moments, 1):
        status, where, stderr = run_until(canopy, pipeline, results, stage, kind, value)
        if status != -signal.SIGKILL:
            sys.exit(f"kill {number} ({stage}, {kind} {value}) did not happen: exit {status}\n{stderr[-2000:]}")
        landed[where.split(" ")[0].split(":")[0]] += 1
        how = f"{value} s after the stage began" if kind == "timed" else f"crash point {value}"
        print(f"  kill {number:2}: {stage}, {how}: in {where}; {check_results.check(results)}")
    print("kills per stage: " + ", ".join(f"{s} {landed[s]}" for s in STAGES))
    missing = [s for s in STAGES if landed[s] == 0]
    if missing:
        sys.exit(f"no kill landed in {', '.join(missing)}")


if __name__ == "__main__":
    main()
