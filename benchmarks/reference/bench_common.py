"""What bench_torch.py and bench_keras.py share: the command line (with thread pinning, which must
happen before a framework loads), the timing loop and the result lines, so the two measure alike."""
import argparse
import json
import os
import resource
import statistics
import time


def parse(doc, add_options=None):
    """The shared options (plus `add_options(parser)`'s); sets the BLAS/OpenMP thread variables."""
    ap = argparse.ArgumentParser(description=doc.splitlines()[0])
    ap.add_argument("--model", default="resnet18")
    ap.add_argument("--size", type=int, default=128)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--mode", choices=["train", "infer", "predict"], default="train")
    ap.add_argument("--steps", type=int, default=10, help="timed steps (the median is reported)")
    ap.add_argument("--warmup", type=int, default=2, help="untimed warm-up steps")
    if add_options:
        add_options(ap)
    a = ap.parse_args()
    if a.size < 32 or a.batch < 1 or a.threads < 1 or a.steps < 1 or a.warmup < 0:
        ap.error("size >= 32; batch, threads, steps > 0; warm-up >= 0")
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        os.environ[var] = str(a.threads)
    return a


def time_steps(step, a, finish=lambda result: None):
    """Seconds of each of `a.steps` steps after `a.warmup` untimed ones; `finish(step())` must return
    only once the step's work is done."""
    times = []
    for i in range(a.warmup + a.steps):
        t0 = time.perf_counter()
        finish(step())
        if i >= a.warmup:
            times.append(time.perf_counter() - t0)
    return times


def report(framework, a, times, flops, **extra):
    """Prints a human line and the last line of JSON, keyed as `canopy bench train|infer --json`."""
    train = a.mode == "train"
    per_step = statistics.median(times)
    res = dict(framework=framework, mode="train" if train else "predict", model=a.model, size=a.size,
               batch=a.batch, threads=a.threads,
               images_per_second=round(a.batch / per_step, 3),
               gflops=round((3 if train else 1) * flops * a.batch / per_step, 3) if flops else None,
               peak_rss_mb=round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1))
    res.update(extra)
    res.update(forward_gflops_per_image=round(flops, 4) if flops else None, steps=a.steps, warmup=a.warmup,
               seconds_per_step=[round(t, 4) for t in times])
    print(f"{framework} {a.model} {res['mode']} at {a.size} px, batch {a.batch}, {a.threads} threads: "
          f"{res['images_per_second']:.1f} images/s, peak RSS {res['peak_rss_mb']:.0f} MB (median of {a.steps} steps)",
          flush=True)
    print(json.dumps(res), flush=True)
