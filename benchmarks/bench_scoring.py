"""Benchmark: scoring and audit of synthetic unit-period rows at 10^4, 10^5 and 10^6 rows.

Run:  .venv/bin/python benchmarks/bench_scoring.py [--sizes 10000 100000 1000000] [--repeat 3]

What is timed, per size, on a synthetic sheet from ``analysis.synthetic.score_sheet`` (one row
per unit × month, six groups + total with decimals and stated maxima, band, rank, change and ten
sub-indicator rates; a share 1e-5 of rows carry a deliberate misprint):

* scoring = ``analysis.scoring.score_table``: total from the groups, band, competition rank in
  the 766 blocks, change against the previous month;
* audit   = ``analysis.audit.audit_sheet``: every score check of the audit, including points
  recomputed from the rates.

Time is the best of ``--repeat`` runs (wall clock, ``time.perf_counter``) after one warm-up on a
small table; the CPU time of the process (``time.process_time``) in the same best run is shown
beside it: on a machine shared with other work, wall clock exceeds CPU time by the time spent
waiting for a core. Memory is measured in a separate run of each step under ``tracemalloc`` (which traces
numpy and pandas buffers): the peak of memory allocated during the step, on top of the input
table, whose own size is shown. The process's peak resident set size (``resource.getrusage``
``ru_maxrss``, which includes the interpreter, the libraries and the input tables) is printed at
the end. Ratios are against the 10^4 baseline measured in the same run. This is a script, not a
test: the figures depend on the machine.
"""
from __future__ import annotations

import argparse
import gc
import os
import platform
import resource
import sys
import time
import tracemalloc

from analysis.audit import audit_sheet
from analysis.scheme import load_scheme
from analysis.scoring import score_table
from analysis.synthetic import score_sheet

# issue 16: scoring plus audit of 10^6 rows in under 1 s (wall clock); the memory a step allocates on
# top of its input stays below half a gigabyte (the 10^6-row sheet itself is about 270 MB)
BUDGET_SECONDS = 1.0
BUDGET_MB = 512.0


def _best_time(fn, repeat: int) -> tuple[float, float]:
    """(wall seconds, CPU seconds) of the fastest of ``repeat`` runs."""
    best = (float("inf"), float("inf"))
    for _ in range(repeat):
        gc.collect()
        start, cpu = time.perf_counter(), time.process_time()
        fn()
        best = min(best, (time.perf_counter() - start, time.process_time() - cpu))
    return best


def _peak_mb(fn) -> float:
    gc.collect()
    tracemalloc.start()
    tracemalloc.reset_peak()
    base = tracemalloc.get_traced_memory()[0]
    fn()
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return (peak - base) / 2**20


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    scheme = load_scheme("766-2025")
    warm = score_sheet(2_000, seed=args.seed, error_rate=1e-3)
    score_table(warm, scheme)
    audit_sheet(warm, scheme=scheme)

    print(f"python {platform.python_version()}, {platform.machine()}, "
          f"memory: tracemalloc peak during each step (on top of the input table)")
    header = (f"{'rows':>9} {'step':<8} {'seconds':>8} {'cpu s':>7} {'rows/s':>12} {'peak MB':>8} {'input MB':>8} "
              f"{'x rows':>7} {'x time':>7} {'x mem':>7} {'findings':>9}")
    print(header)
    print("-" * len(header))
    base = {}
    combined = {}
    for n in args.sizes:
        sheet = score_sheet(n, seed=args.seed, error_rate=1e-5)
        input_mb = sheet.memory_usage(deep=True).sum() / 2**20
        steps = {
            "scoring": lambda: score_table(sheet, scheme),
            "audit": lambda: audit_sheet(sheet, scheme=scheme),
        }
        findings = len(audit_sheet(sheet, scheme=scheme))
        for name, fn in steps.items():
            seconds, cpu = _best_time(fn, args.repeat)
            peak = _peak_mb(fn)
            if name not in base:
                base[name] = (n, seconds, peak)
            b_n, b_t, b_m = base[name]
            combined.setdefault(n, [0.0, 0.0, 0.0])
            combined[n][0] += seconds
            combined[n][1] = max(combined[n][1], peak)
            combined[n][2] += cpu
            print(f"{n:>9,} {name:<8} {seconds:>8.3f} {cpu:>7.3f} {n / seconds:>12,.0f} {peak:>8.1f} {input_mb:>8.1f} "
                  f"{n / b_n:>7.0f} {seconds / b_t:>7.1f} {peak / max(b_m, 1e-9):>7.1f} "
                  f"{findings if name == 'audit' else '':>9}")
        del sheet, steps
        gc.collect()
    print()
    for n, (seconds, peak, cpu) in combined.items():
        ok = "within" if seconds < BUDGET_SECONDS and peak < BUDGET_MB else "OVER"
        print(f"{n:>9,} rows: scoring + audit {seconds:.3f} s (CPU {cpu:.3f} s), peak {peak:.0f} MB during a "
              f"step ({ok} the budget of {BUDGET_SECONDS:g} s and {BUDGET_MB:g} MB)")
    print(f"load average over the last minute at the end: {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores")
    maxrss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    scale = 2**20 if sys.platform == "darwin" else 2**10   # bytes on macOS, KiB on Linux
    print(f"process peak RSS (ru_maxrss, whole run incl. inputs and libraries): {maxrss / scale:.0f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
