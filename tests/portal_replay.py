"""A local replay of the national portal's API for tests and benchmarks: a real HTTP server on
127.0.0.1 (pytest-httpserver) that answers POST requests with the recorded real responses in
``../shared/data/portal`` and ``../shared/data/portal-extra``, matched on endpoint and payload,
and injects faults on demand.

Recorded responses:

* every capture of ``qd766/tests/fixtures/manifest.m0.json`` whose file is present (Phú Thọ,
  month 8/2026: dvc-progress-tree, provide-online-tree, formality-online-payment-tree), with the
  payload, status and content type the manifest records;
* the crawler's raw service-results files (no manifest): the national list for the year 2026
  (payload ``{"timeType": "year", "year": 2026}``) and Gia Lai's months 2 and 3 of 2026 (payload
  with Gia Lai's root department id, read from the national file). These payloads are the ones
  the client sends (inferred, see ``analysis.fetch``), not recorded ones.

Matching ignores ``currentPage``/``pageSize``: page 1 with a page size at least the number of
recorded units is the recorded body byte for byte; other pages are slices of the recorded
``children`` (re-serialised), so that paging can be tested on real records.
"""
from __future__ import annotations

import json
import re
import socket
import struct
import threading
import time
from dataclasses import dataclass, field
from typing import Callable

from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from analysis.config import SHARED_DIR

PORTAL = SHARED_DIR / "data" / "portal"
EXTRA = SHARED_DIR / "data" / "portal-extra"
QD766 = PORTAL / "qd766" / "tests" / "fixtures"
RAW_EXTRA = EXTRA / "crawler-766" / "data" / "raw" / "2026"
NATIONAL_FILE = RAW_EXTRA / "provinces" / "raw_Provinces_year_2026_27092026.json"
GIA_LAI_FILES = {m: RAW_EXTRA / "gia_lai" / f"service_results_month_2026_{m}.json" for m in (2, 3)}
PAGING = ("currentPage", "pageSize")
PREFIX = "/api/v1/reporting/evaluation/"
PHU_THO_ROOT = "019d2be3-6a88-732b-8b17-b68020c8553a"


def shared_available() -> bool:
    return QD766.is_dir() and NATIONAL_FILE.exists()


SKIP_REASON = (f"recorded portal responses not found under {SHARED_DIR / 'data'} (../shared beside "
               f"the clone; set ANALYSIS_SHARED_DIR)")


@dataclass
class Recorded:
    endpoint: str
    payload: dict
    body: bytes
    content_type: str
    status: int
    source: str

    def matches(self, endpoint: str, payload: dict) -> bool:
        strip = lambda p: {k: v for k, v in p.items() if k not in PAGING}  # noqa: E731
        return endpoint == self.endpoint and strip(payload) == strip(self.payload)


def recorded_responses() -> list[Recorded]:
    """Every recorded response with the payload it answers."""
    out = []
    manifest = json.loads((QD766 / "manifest.m0.json").read_text(encoding="utf-8"))
    for c in manifest["captures"]:
        f = QD766 / c["file"]
        if f.exists() and "/evaluation/" in c["url"]:
            out.append(Recorded(c["url"].rsplit("/", 1)[1], c["payload"], f.read_bytes(),
                                c["contentType"], c["httpStatus"], str(f)))
    national = NATIONAL_FILE.read_bytes()
    out.append(Recorded("service-results", {"timeType": "year", "year": 2026}, national,
                        "application/json; charset=utf-8", 201, str(NATIONAL_FILE)))
    gia_lai = next(e["departmentId"] for e in json.loads(national)["data"]["evaluation"]
                   if e["departmentCode"] == "H21")
    for month, f in GIA_LAI_FILES.items():
        out.append(Recorded("service-results", {"timeType": "month", "year": 2026, "month": month,
                                                "rootDepartmentId": gia_lai},
                            f.read_bytes(), "application/json; charset=utf-8", 201, str(f)))
    return out


@dataclass
class Fault:
    """Answer matching requests (``when``: endpoint, payload -> bool) ``times`` times with ``kind``.

    Kinds: ``500``, ``429`` (``Retry-After: retry_after``), ``timeout`` (sleep ``delay`` s before
    answering), ``truncated`` (the body cut in half), ``html`` (a 200 HTML error page), ``ctype``
    (the JSON body as text/plain), ``reset`` (TCP reset), ``empty-page`` (a page with no units),
    ``404``.
    """

    kind: str
    when: Callable[[str, dict], bool] = lambda endpoint, payload: True
    times: int = 1
    retry_after: str = "1"
    delay: float = 1.0
    hits: int = 0


@dataclass
class Replay:
    """The replay server's state: recorded responses, faults, and the requests received."""

    recorded: list[Recorded]
    faults: list[Fault] = field(default_factory=list)
    log: list[tuple[str, dict, str]] = field(default_factory=list)
    agents: list[str] = field(default_factory=list)
    any_period: bool = False  # benchmark: serve an endpoint's recording whatever the period
    not_found_delay: float = 0.0  # seconds before a 404, so lists in flight together all start first
    lock: threading.Lock = field(default_factory=threading.Lock)

    def handler(self, request: Request) -> Response:
        endpoint = request.path[len(PREFIX):]
        try:
            payload = json.loads(request.get_data() or b"{}")
        except ValueError:
            return _json(400, {"code": "BAD_REQUEST", "message": "body is not JSON"})
        with self.lock:
            fault = next((f for f in self.faults if f.hits < f.times and f.when(endpoint, payload)), None)
            if fault is not None:
                fault.hits += 1
            self.log.append((endpoint, payload, fault.kind if fault else "ok"))
            self.agents.append(request.headers.get("User-Agent", ""))
        rec = next((r for r in self.recorded if r.matches(endpoint, payload)), None)
        if rec is None and self.any_period:
            rec = next((r for r in self.recorded if r.endpoint == endpoint), None)
        if fault is not None:
            answer = self._fault(fault, request, rec, payload)
            if answer is not None:
                return answer
        if rec is None:
            time.sleep(self.not_found_delay)
            return _json(404, {"code": "NOT_FOUND", "message": f"no recorded response for {endpoint} "
                                                               f"{json.dumps(payload)}"})
        return self._page(rec, payload)

    def _page(self, rec: Recorded, payload: dict, empty: bool = False) -> Response:
        obj = json.loads(rec.body)
        children = obj.get("data", {}).get("children") if isinstance(obj.get("data"), dict) else None
        page, size = payload.get("currentPage", 1), payload.get("pageSize")
        if children is None or size is None or (page == 1 and size >= len(children) and not empty):
            return Response(rec.body, status=rec.status, content_type=rec.content_type)
        obj["data"]["children"] = [] if empty else children[(page - 1) * size: page * size]
        return Response(json.dumps(obj, ensure_ascii=False).encode("utf-8"), status=rec.status,
                        content_type=rec.content_type, headers={"X-Replay": "sliced"})

    def _fault(self, fault: Fault, request: Request, rec: Recorded | None, payload: dict):
        if fault.kind == "500":
            return _json(500, {"code": "INTERNAL_ERROR", "message": "Internal Server Error"})
        if fault.kind == "404":
            return _json(404, {"code": "NOT_FOUND", "message": "Not Found"})
        if fault.kind == "429":
            return Response(b'{"code":"TOO_MANY_REQUESTS","message":"Too Many Requests"}', status=429,
                            content_type="application/json", headers={"Retry-After": fault.retry_after})
        if fault.kind == "html":
            return Response("<!DOCTYPE html><html><head><title>Hệ thống đang bảo trì</title></head>"
                            "<body>Vui lòng quay lại sau</body></html>", status=200,
                            content_type="text/html; charset=utf-8")
        if fault.kind == "timeout":
            time.sleep(fault.delay)
            return None
        if rec is None:
            return None
        if fault.kind == "truncated":
            return Response(rec.body[: len(rec.body) // 2], status=rec.status, content_type=rec.content_type)
        if fault.kind == "ctype":
            return Response(rec.body, status=rec.status, content_type="text/plain; charset=utf-8")
        if fault.kind == "empty-page":
            return self._page(rec, payload, empty=True)
        if fault.kind == "reset":
            sock: socket.socket = request.environ["werkzeug.socket"]
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            sock.shutdown(socket.SHUT_RDWR)
            sock.close()
            return Response(b"", status=500)
        raise ValueError(f"unknown fault {fault.kind}")


def _json(status: int, obj: dict) -> Response:
    return Response(json.dumps(obj), status=status, content_type="application/json")


def start(recorded: list[Recorded] | None = None, **kw) -> tuple[HTTPServer, Replay]:
    """Start a threaded replay server on 127.0.0.1; returns (server, replay). Stop with
    ``server.clear(); server.stop()``."""
    replay = Replay(recorded if recorded is not None else recorded_responses(), **kw)
    server = HTTPServer(host="127.0.0.1", port=0, threaded=True)
    server.expect_request(re.compile("^" + re.escape(PREFIX) + ".+$"), method="POST") \
        .respond_with_handler(replay.handler)
    server.start()
    return server, replay


def base_url(server: HTTPServer) -> str:
    return f"http://127.0.0.1:{server.port}"
