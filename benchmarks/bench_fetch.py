"""Benchmark: the portal client against a local replay of the recorded real responses.

Run:  .venv/bin/python benchmarks/bench_fetch.py [--months 12] [--page-size 20] [--concurrency 4]
                                                 [--rate 2] [--limited-months 2]

A threaded HTTP server on 127.0.0.1 (``tests/portal_replay.py``, pytest-httpserver) answers with the
recorded Phú Thọ responses of ``../shared/data/portal/qd766`` (dvc-progress-tree,
provide-online-tree, formality-online-payment-tree; 35–70 kB each, 163 units), whatever the
period asked (``any_period``: a benchmark of the client, not of the data). The client fetches
``--months`` months × 3 groups into a scratch capture folder, paged at ``--page-size`` units
(163 units at 20 a page = 9 pages a list), with every check, atomic write and manifest update of
a real run:

1. rate limit off (``rate=0``, as for a local replay): requests/s and MB/s (bytes of response
   bodies over wall-clock time);
2. rate limit on (default 2 requests/s): the server's own arrival times of the requests give
   the achieved rate (requests − 1 over the span from first to last) and the smallest gap
   between two consecutive arrivals, which must not be below 1/rate (less a 5 % allowance for
   scheduling jitter). The limit is shared by successive fetches of one process.

Figures depend on the machine; this is a script, not a test.
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

import portal_replay as pr  # noqa: E402
from analysis.fetch import FetchOptions, fetch  # noqa: E402

GROUPS = "TDGQ,ONLINE,TTTT"


def months(n: int) -> list[str]:
    out, y, m = [], 2025, 1
    for _ in range(n):
        out.append(f"{y}-{m:02d}")
        y, m = (y + 1, 1) if m == 12 else (y, m + 1)
    return out


def run(base_url: str, periods: list[str], *, rate, page_size: int, concurrency: int) -> tuple[float, int, int]:
    opts = FetchOptions(base_url=base_url, rate=rate, progress=False, page_size=page_size,
                        concurrency=concurrency)
    requests = size = 0
    with tempfile.TemporaryDirectory(prefix="bench-fetch-") as tmp:
        start = time.perf_counter()
        for period in periods:
            r = fetch(pr.PHU_THO_ROOT, period, tmp, groups=GROUPS, options=opts)
            requests += r.requests
            size += r.bytes
        elapsed = time.perf_counter() - start
    return elapsed, requests, size


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--months", type=int, default=12, help="months fetched with the limit off")
    ap.add_argument("--page-size", type=int, default=20)
    ap.add_argument("--concurrency", type=int, default=4)
    ap.add_argument("--rate", type=float, default=2.0, help="the limit checked in part 2")
    ap.add_argument("--limited-months", type=int, default=2, help="months fetched with the limit on")
    args = ap.parse_args()
    if not pr.shared_available():
        print(f"skipped: {pr.SKIP_REASON}")
        return 0
    import logging

    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    server, replay = pr.start(any_period=True)
    arrivals: list[float] = []
    handler = replay.handler

    def timed(request):
        arrivals.append(time.monotonic())
        return handler(request)

    server.clear()
    server.expect_request(__import__("re").compile("^" + pr.PREFIX + ".+$"), method="POST") \
        .respond_with_handler(timed)
    base = pr.base_url(server)
    try:
        run(base, months(1), rate=0, page_size=args.page_size, concurrency=args.concurrency)  # warm-up
        for page_size in (200, args.page_size):
            elapsed, n, size = run(base, months(args.months), rate=0, page_size=page_size,
                                   concurrency=args.concurrency)
            print(f"rate limit off: {n} requests ({args.months} months x 3 groups, page size "
                  f"{page_size}, concurrency {args.concurrency}) in {elapsed:.2f} s: "
                  f"{n / elapsed:.1f} requests/s, {size / 1e6 / elapsed:.2f} MB/s "
                  f"({size / 1e6:.1f} MB of response bodies)")
        arrivals.clear()
        elapsed, n, size = run(base, months(args.limited_months), rate=args.rate,
                               page_size=args.page_size, concurrency=args.concurrency)
        span = arrivals[-1] - arrivals[0]
        gaps = [b - a for a, b in zip(arrivals, arrivals[1:])]
        achieved = (len(arrivals) - 1) / span if span else float("inf")
        # starts are spaced 1/rate apart by the client; arrival times at the server carry a few
        # milliseconds of scheduling jitter, hence the 5 % allowance on the smallest gap
        verdict = "holds" if achieved <= args.rate * 1.01 and min(gaps) >= 0.95 / args.rate else "BROKEN"
        print(f"rate limit {args.rate:g}/s: {n} requests in {elapsed:.2f} s; server saw "
              f"{achieved:.2f} requests/s, smallest gap between requests {min(gaps):.3f} s "
              f"(limit {1 / args.rate:.3f} s): the limit {verdict}")
    finally:
        server.clear()
        server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
