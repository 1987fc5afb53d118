"""Fetch the 766 figures of a province and period from the national portal's API, keeping every
raw response as received.

``python -m analysis fetch --province H44 --period 2026-08 --raw data/raw`` asks the portal
(``POST https://dichvucong.gov.vn/api/v1/reporting/evaluation/<endpoint>``, payloads as in the
recorded captures of ``shared/data/portal/qd766/tests/fixtures/manifest.m0.json``) for:

* ``service-results`` — the country's provinces (no ``rootDepartmentId``; this call also finds a
  province's root department id from its code) and the province's units (with it);
* the six group endpoints (:data:`GROUP_ENDPOINTS`), each a paged list of the province's units.

Behaviour (see ``domain/766-index.md``, "The portal API"):

* **Client.** httpx with connect/read timeouts; retries with exponential backoff and full
  jitter on timeouts, connection errors, HTTP 429 (``Retry-After`` honoured) and 5xx; no retry
  on any other 4xx; at most ``concurrency`` requests in flight and at most ``rate`` requests per
  second (default 2; ``rate=0`` turns the limit off, for local replays and benchmarks); a
  User-Agent naming the toolkit; a progress bar on stderr.
* **Checks before anything is kept.** HTTP status 200/201, a JSON content type, a body that
  parses, the envelope ``code`` ``OK``, the expected shape (``data.parent`` + ``data.children``
  or ``data.overview`` + ``data.evaluation``), a non-empty unit list for a province, pages that
  neither repeat nor skip units. A failure is one line naming the endpoint, the payload and
  what came back; nothing is written for that list.
* **Immutable captures.** A list (all its pages) is written only once complete, each response
  atomically as ``DIR/<capture date>/<endpoint>/<period>-<scope>.json`` (page 2 on:
  ``….p2.json``, read-only), and recorded in ``DIR/<capture date>/manifest.json`` in the shape of
  ``manifest.m0.json`` (url, method, payload, status, content type, captured_at, sha256,
  bytes, period, scope). The capture date is the Vietnam (UTC+7) date. A rerun skips the lists
  already captured and fetches the rest; ``refresh=True`` starts a new capture folder
  (``<date>.2`` … when that day already has one). No file is ever overwritten.
* **Periods.** Month ``YYYY-MM``, quarter ``YYYY-QN`` or year ``YYYY``. A period still running
  on the capture date is a snapshot "to date", named ``YYYY-mtd-MM-DD``, ``YYYY-qtd-MM-DD`` or
  ``YYYY-ytd-MM-DD`` with the capture date (:func:`analysis.importers.portal.portal_period`).

The service-results payloads are inferred from the portal's pages (``timeType``/``year``/
``month`` or ``quarter``, plus ``rootDepartmentId`` for a province's units; not paged); the group
payloads are those recorded in the qd766 manifest.
"""
from __future__ import annotations

import csv
import json
import random
import re
import sys
import threading
import time
from concurrent.futures import FIRST_EXCEPTION, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from email.utils import parsedate_to_datetime
from hashlib import sha256
from pathlib import Path
from typing import Any, Callable

import httpx
from filelock import FileLock

from . import __version__
from .config import REFERENCE_DIR
from .errors import AnalysisError, ParameterError
from .files import atomic_write_bytes, atomic_write_text
from .periods import parse_period

__all__ = [
    "FetchError", "FetchOptions", "FetchResult", "Request", "PortalClient", "RateLimiter",
    "fetch", "plan_period", "resolve_groups", "check_response", "DEFAULT_BASE_URL", "API_PATH",
    "USER_AGENT", "GROUP_ENDPOINTS", "SERVICE_RESULTS", "LEVELS", "MANIFEST", "add_parser",
]

DEFAULT_BASE_URL = "https://dichvucong.gov.vn"
API_PATH = "/api/v1/reporting/evaluation/"
USER_AGENT = (f"analysis-766/{__version__} (Chi so 766 research toolkit; polite client, "
              f"at most 2 requests/s by default) python-httpx/{httpx.__version__}")
SERVICE_RESULTS = "service-results"
# Group code -> endpoint (the qd766 manifest and metrics.m0.json): reference/groups.csv,
# column portal_endpoint, in report order.
with open(REFERENCE_DIR / "groups.csv", encoding="utf-8", newline="") as _fh:  # csv: no pandas to fetch
    GROUP_ENDPOINTS = {row["group"]: row["portal_endpoint"] for row in csv.DictReader(_fh) if row["portal_endpoint"]}
# Endpoints whose period is given as fromDate/toDate instead of timeType.
DATE_RANGE_ENDPOINTS = {"handling-satisfaction"}
LEVELS = ("province", "departments", "communes", "all")
# --province values that ask for the national list (the country's provinces) only.
NATIONAL = ("national", "vn", "viet-nam")
MANIFEST = "manifest.json"
_UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$", re.I)
_CODE = re.compile(r"^H\d{2}$")
_FOLDER = re.compile(r"^(?P<date>\d{4}-\d{2}-\d{2})(?:\.(?P<n>\d+))?$")


class FetchError(AnalysisError):
    """A request that failed for good, or a response that failed a check (one line)."""


@dataclass
class FetchOptions:
    """How the client behaves. ``rate`` is requests per second (0 or None: no limit)."""

    base_url: str = DEFAULT_BASE_URL
    rate: float | None = 2.0
    concurrency: int = 4
    connect_timeout: float = 10.0
    read_timeout: float = 60.0
    retries: int = 5
    backoff: float = 1.0
    backoff_max: float = 60.0
    retry_after_max: float = 300.0
    page_size: int = 200
    user_agent: str = USER_AGENT
    progress: bool = True


@dataclass(frozen=True)
class Request:
    """One list to capture: an endpoint, the payload without paging, its period, and the root
    department id of the province (None for the national list)."""

    endpoint: str
    payload: dict
    period: str
    root: str | None
    paged: bool

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.endpoint, self.period, self.root or "national")

    def file(self, scope: str, page: int = 1) -> str:
        suffix = "" if page == 1 else f".p{page}"
        return f"{self.endpoint}/{self.period}-{scope}{suffix}.json"


def _entry_key(entry: dict) -> tuple:
    payload = entry.get("payload") or {}
    return (entry.get("endpoint"), entry.get("period"), payload.get("rootDepartmentId") or "national")


@dataclass
class FetchResult:
    """What a fetch did: the capture folder, lists fetched and skipped, requests made."""

    capture_dir: Path
    fetched: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    requests: int = 0
    bytes: int = 0
    root_department_id: str | None = None
    province_code: str | None = None
    period: str | None = None

    def lines(self) -> list[str]:
        out = [f"fetched {f}" for f in self.fetched]
        out += [f"skip    {s} (already captured)" for s in self.skipped]
        out.append(f"{self.capture_dir}: {len(self.fetched)} file(s) written, {len(self.skipped)} "
                   f"already there; {self.requests} requests, {self.bytes / 1e6:.2f} MB")
        return out


# --- rate limit ---------------------------------------------------------------------------------

class RateLimiter:
    """At most ``rate`` request starts per second across threads (starts spaced ``1/rate`` apart).

    Examples
    --------
    >>> limiter = RateLimiter(None)   # off
    >>> limiter.wait()
    """

    def __init__(self, rate: float | None, clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep):
        self.interval = 1.0 / rate if rate else 0.0
        self._next = 0.0
        self._lock = threading.Lock()
        self._clock, self._sleep = clock, sleep

    def wait(self) -> None:
        if not self.interval:
            return
        with self._lock:
            now = self._clock()
            start = max(now, self._next)
            self._next = start + self.interval
        if start > now:
            self._sleep(start - now)


_LIMITERS: dict[tuple[str, float], RateLimiter] = {}
_LIMITERS_LOCK = threading.Lock()


def _shared_limiter(base_url: str, rate: float | None) -> RateLimiter:
    """One limiter per portal address and rate in a process, so that successive fetches (one per
    period or province) stay within the limit together, not each on its own."""
    if not rate:
        return RateLimiter(None)
    with _LIMITERS_LOCK:
        return _LIMITERS.setdefault((base_url.rstrip("/"), float(rate)), RateLimiter(rate))


# --- response checks ----------------------------------------------------------------------------

def _shown(payload: dict) -> str:
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":"))


def _what_came_back(resp: httpx.Response, limit: int = 80) -> str:
    ctype = resp.headers.get("content-type", "no content type")
    text = resp.content[:2000].decode("utf-8", "replace")
    title = re.search(r"<title[^>]*>(.*?)</title>", text, re.I | re.S)
    if title:
        snippet = "HTML page titled '" + " ".join(title.group(1).split())[:limit] + "'"
    else:
        snippet = repr(" ".join(text.split())[:limit]) if text.strip() else "an empty body"
    return f"HTTP {resp.status_code} {ctype}, {len(resp.content)} bytes: {snippet}"


def check_response(endpoint: str, payload: dict, resp: httpx.Response, *,
                   province: bool = True) -> dict:
    """The parsed JSON of a response that passes every check, else :class:`FetchError`.

    Checks: status 200/201, a JSON content type, a body that parses (not truncated), the
    envelope ``code`` ``OK``, and the shape of the endpoint (``data.parent`` + ``data.children``
    for a group endpoint; ``data.overview`` + ``data.evaluation`` for service-results).

    Examples
    --------
    >>> body = b'{"code":"OK","message":"OK","data":{"parent":{},"children":[{"departmentCode":"H44.01"}]}}'
    >>> r = httpx.Response(201, content=body, headers={"content-type": "application/json"})
    >>> len(check_response("dvc-progress-tree", {}, r)["data"]["children"])
    1
    >>> r = httpx.Response(200, content="<html><title>Bảo trì</title></html>".encode(),
    ...                    headers={"content-type": "text/html"})
    >>> check_response("transparency", {"year": 2026}, r)
    Traceback (most recent call last):
    analysis.fetch.FetchError: transparency {"year":2026}: expected JSON, got HTTP 200 text/html, 38 bytes: HTML page titled 'Bảo trì'
    """
    where = f"{endpoint} {_shown(payload)}"
    if resp.status_code not in (200, 201):
        raise FetchError(f"{where}: {_what_came_back(resp)}")
    ctype = resp.headers.get("content-type", "").split(";")[0].strip().lower()
    if ctype != "application/json" and not ctype.endswith("+json"):
        raise FetchError(f"{where}: expected JSON, got {_what_came_back(resp)}")
    try:
        obj = json.loads(resp.content.decode("utf-8-sig"))
    except UnicodeDecodeError:
        raise FetchError(f"{where}: the body is not UTF-8 ({_what_came_back(resp)})") from None
    except json.JSONDecodeError as exc:
        what = ("a truncated body (JSON ends early)" if _ends_early(resp.content)
                else f"malformed JSON ({exc.msg} at byte {exc.pos})")
        raise FetchError(f"{where}: {what}; got {_what_came_back(resp)}") from None
    if not isinstance(obj, dict) or "code" not in obj:
        raise FetchError(f"{where}: not the API's envelope {{code, message, data}}; got "
                         f"{_what_came_back(resp)}")
    if obj.get("code") != "OK":
        raise FetchError(f"{where}: the API answered code {obj.get('code')!r}, message "
                         f"{str(obj.get('message'))[:80]!r}")
    data = obj.get("data")
    if endpoint == SERVICE_RESULTS:
        if not (isinstance(data, dict) and isinstance(data.get("overview"), dict)
                and isinstance(data.get("evaluation"), list)):
            raise FetchError(f"{where}: expected data.overview and data.evaluation[]; got "
                             f"{_keys(data)}")
        if not data["evaluation"]:
            raise FetchError(f"{where}: the unit list data.evaluation is empty although every "
                             f"{'province has units' if province else 'country has provinces'}")
    else:
        if not (isinstance(data, dict) and isinstance(data.get("parent"), dict)
                and isinstance(data.get("children"), list)):
            raise FetchError(f"{where}: expected data.parent and data.children[]; got {_keys(data)}")
        bad = next((i for i, c in enumerate(data["children"])
                    if not (isinstance(c, dict) and isinstance(c.get("departmentCode"), str))), None)
        if bad is not None:
            raise FetchError(f"{where}: data.children[{bad}] is not a unit record with a departmentCode")
    return obj


def _ends_early(body: bytes) -> bool:
    """True when the body stops inside a string or with brackets still open (cut off).

    Examples
    --------
    >>> _ends_early(b'{"a": [1, "x'), _ends_early(b'{"a": 1}}')
    (True, False)
    """
    depth, in_string, escape = 0, False, False
    for ch in body.decode("utf-8", "replace"):
        if in_string:
            if escape:
                escape = False
            elif ch == "\\":
                escape = True
            elif ch == '"':
                in_string = False
        elif ch == '"':
            in_string = True
        elif ch in "{[":
            depth += 1
        elif ch in "}]":
            depth -= 1
    return in_string or depth > 0 or not body.strip()


def _keys(data: Any) -> str:
    if isinstance(data, dict):
        return "data with keys " + ", ".join(sorted(data)[:8]) if data else "an empty data object"
    return f"data of type {type(data).__name__}"


# --- the HTTP client ----------------------------------------------------------------------------

@dataclass
class Response:
    """A checked response with what the manifest records."""

    url: str
    payload: dict
    status: int
    content_type: str
    captured_at: str
    body: bytes
    obj: dict


class PortalClient:
    """POST JSON to the portal with timeouts, retries, a rate limit and bounded concurrency."""

    def __init__(self, options: FetchOptions, *, sleep: Callable[[float], None] = time.sleep,
                 clock: Callable[[], datetime] | None = None):
        self.options = options
        self.clock = clock or (lambda: datetime.now(timezone.utc))
        self.base = options.base_url.rstrip("/") + API_PATH
        self.limiter = (_shared_limiter(options.base_url, options.rate) if sleep is time.sleep
                        else RateLimiter(options.rate, sleep=sleep))
        self._sleep = sleep
        self.http = httpx.Client(
            timeout=httpx.Timeout(options.read_timeout, connect=options.connect_timeout),
            headers={"User-Agent": options.user_agent, "Accept": "application/json"},
            limits=httpx.Limits(max_connections=options.concurrency,
                                max_keepalive_connections=options.concurrency),
            follow_redirects=False)
        self.requests = 0
        self.bytes = 0
        self._count = threading.Lock()

    def close(self) -> None:
        self.http.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def _delay(self, attempt: int) -> float:
        """Exponential backoff with full jitter: uniform in [0, min(max, base × 2^attempt)]."""
        return random.uniform(0, min(self.options.backoff_max, self.options.backoff * 2 ** attempt))

    def _retry_after(self, resp: httpx.Response) -> float | None:
        value = resp.headers.get("retry-after")
        if not value:
            return None
        try:
            return max(0.0, float(value))
        except ValueError:
            pass
        try:
            moment = parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        return max(0.0, (moment - datetime.now(timezone.utc)).total_seconds())

    def post(self, endpoint: str, payload: dict, *, province: bool = True) -> Response:
        """POST ``payload`` to ``endpoint`` and return the checked response.

        Raises
        ------
        FetchError
            A non-retryable answer, a failed check, or retries exhausted (one line naming the
            endpoint, the payload and the last thing that came back).
        """
        url = self.base + endpoint
        where = f"{endpoint} {_shown(payload)}"
        last = ""
        for attempt in range(self.options.retries + 1):
            self.limiter.wait()
            captured_at = self.clock().astimezone(timezone.utc).isoformat()
            try:
                resp = self.http.post(url, json=payload)
            except httpx.TimeoutException as exc:
                last = f"timed out ({type(exc).__name__})"
                delay = self._delay(attempt)
            except httpx.TransportError as exc:
                last = f"connection error ({type(exc).__name__}: {str(exc)[:80] or 'no detail'})"
                delay = self._delay(attempt)
            else:
                with self._count:
                    self.requests += 1
                    self.bytes += len(resp.content)
                status = resp.status_code
                if status == 429 or status >= 500:
                    last = _what_came_back(resp)
                    after = self._retry_after(resp) if status in (429, 503) else None
                    if after is not None and after > self.options.retry_after_max:
                        raise FetchError(f"{where}: the portal asks to wait {after:.0f} s "
                                         f"(Retry-After) after {last}; try again later")
                    delay = after if after is not None else self._delay(attempt)
                elif 400 <= status < 500 or status not in (200, 201):
                    raise FetchError(f"{where}: {_what_came_back(resp)} (not retried)")
                else:
                    obj = check_response(endpoint, payload, resp, province=province)
                    return Response(url=url, payload=payload, status=status,
                                    content_type=resp.headers.get("content-type", ""),
                                    captured_at=captured_at, body=resp.content, obj=obj)
            if attempt < self.options.retries:
                self._sleep(delay)
        raise FetchError(f"{where}: gave up after {self.options.retries + 1} attempts; last: {last}")


# --- planning -----------------------------------------------------------------------------------

def vietnam_now(now: datetime | None = None) -> datetime:
    from .importers.portal import VIETNAM_TZ

    now = now or datetime.now(timezone.utc)
    if now.tzinfo is None:
        now = now.replace(tzinfo=timezone.utc)
    return now.astimezone(VIETNAM_TZ)


def plan_period(period: str, today: date) -> tuple[str, dict, dict]:
    """Period id of the capture, the time fields of the payload, and the date range fields.

    Raises
    ------
    ParameterError
        Not a month, quarter or year, or a period that has not started on ``today``.

    Examples
    --------
    >>> plan_period("2026-08", date(2026, 9, 26))
    ('2026-08', {'timeType': 'month', 'year': 2026, 'month': 8}, {'fromDate': '2026-08-01', 'toDate': '2026-08-31'})
    >>> plan_period("2026", date(2026, 9, 27))[0]
    '2026-ytd-09-27'
    """
    from .importers.portal import portal_period

    p = parse_period(period, parameter="--period")
    if p.kind not in ("month", "quarter", "year"):
        raise ParameterError(f"parameter '--period': '{period}' is a {p.kind} period; the portal "
                             f"is asked for a month (YYYY-MM), a quarter (YYYY-QN) or a year (YYYY); "
                             f"a running period is captured as a snapshot to date automatically")
    if p.kind == "month":
        time = {"timeType": "month", "year": p.year, "month": p.start.month}
    elif p.kind == "quarter":
        time = {"timeType": "quarter", "year": p.year, "quarter": (p.start.month - 1) // 3 + 1}
    else:
        time = {"timeType": "year", "year": p.year}
    try:
        pid, _ = portal_period(time["timeType"], p.year, as_of=today, month=time.get("month"),
                               quarter=time.get("quarter"))
    except ValueError as exc:
        raise ParameterError(f"parameter '--period': {exc}") from None
    return pid, time, {"fromDate": p.start.isoformat(), "toDate": p.end.isoformat()}


# --groups tokens for the two service-results lists.
NATIONAL_LIST, UNITS_LIST = "national", "units"


def resolve_groups(text: str | None) -> list[str]:
    """What ``--groups`` asks for: endpoints of the six groups (group codes CKMB, TDGQ,
    ONLINE/CLGQ, TTTT, MDHL, MDSH, or endpoint names), ``national`` (service-results: the
    country's provinces), ``units`` (service-results: the province's units) and ``results``
    (both). Default: all of them.

    Examples
    --------
    >>> resolve_groups("TDGQ,ONLINE")
    ['dvc-progress-tree', 'provide-online-tree']
    >>> resolve_groups("results")
    ['national', 'units']
    >>> len(resolve_groups(None))
    8
    """
    if not text:
        return [NATIONAL_LIST, UNITS_LIST, *GROUP_ENDPOINTS.values()]
    out = []
    for item in (t.strip() for t in text.split(",") if t.strip()):
        code = item.upper()
        if code == "CLGQ":
            code = "ONLINE"
        if code in GROUP_ENDPOINTS:
            found = [GROUP_ENDPOINTS[code]]
        elif item.lower() in ("results", SERVICE_RESULTS):
            found = [NATIONAL_LIST, UNITS_LIST]
        elif item.lower() in (NATIONAL_LIST, UNITS_LIST) or item.lower() in GROUP_ENDPOINTS.values():
            found = [item.lower()]
        else:
            raise ParameterError(f"parameter '--groups': '{item}' is not a group; allowed: "
                                 f"{', '.join(GROUP_ENDPOINTS)}, results (service results: "
                                 f"national and units), national, units, or the endpoint names")
        out += [f for f in found if f not in out]
    if not out:
        raise ParameterError("parameter '--groups': empty; give at least one group")
    return out


def _province_argument(text: str, data_dir: Path | None) -> tuple[str | None, str | None]:
    """(root department id, province code) from ``--province``: a UUID, a code, or a unit id."""
    value = text.strip()
    if _UUID.match(value):
        return value.lower(), None
    if _CODE.match(value.upper()):
        return None, value.upper()
    from .config import DATA_DIR

    units_csv = Path(data_dir or DATA_DIR) / "units.csv"
    if units_csv.exists():
        import pandas as pd

        units = pd.read_csv(units_csv, dtype=str, keep_default_na=False)
        row = units.loc[(units["unit_id"] == value) & (units["level"] == "province")]
        if len(row):
            code = row["code"].iloc[0]
            if not code:
                raise ParameterError(f"parameter '--province': unit '{value}' has no portal code in "
                                     f"{units_csv}; give the code (e.g. H44) or the root department id")
            return None, code
    raise ParameterError(f"parameter '--province': '{text}' is neither a province code (H44), a root "
                         f"department id (UUID) nor a province id of {units_csv}")


# --- the capture folder -------------------------------------------------------------------------

class CaptureStore:
    """A capture folder ``DIR/<date>[.N]`` and its manifest (one writer at a time: a file lock)."""

    def __init__(self, folder: Path, *, base_url: str):
        self.folder = folder
        self.base_url = base_url
        self.lock = threading.Lock()
        path = folder / MANIFEST
        if path.exists():
            try:
                self.doc = json.loads(path.read_text(encoding="utf-8"))
            except ValueError as exc:
                raise FetchError(f"{path}: the capture manifest is not JSON ({exc}); it is never "
                                 f"rewritten by hand — move the folder away") from None
        else:
            self.doc = {"schemaVersion": 1, "status": "captured-by-analysis-766",
                        "tool": f"analysis-766 {__version__}", "captures": []}

    @property
    def entries(self) -> list[dict]:
        return self.doc["captures"]

    def held(self) -> set:
        return {_entry_key(e) for e in self.entries}

    def complete(self, request: Request) -> list[str] | None:
        """The files of the request when every page is in the manifest and on disk, else None.

        Raises
        ------
        FetchError
            A listed file that is missing or whose bytes changed (captures are never edited).
        """
        pages = [e for e in self.entries if _entry_key(e) == request.key]
        if not pages:
            return None
        for e in pages:
            f = self.folder / e["file"]
            if not f.exists() or sha256(f.read_bytes()).hexdigest() != e["sha256"]:
                raise FetchError(f"{f}: listed in {self.folder / MANIFEST} but "
                                 f"{'missing' if not f.exists() else 'its bytes changed'}; a "
                                 f"capture is never edited: fetch with --refresh into a new folder")
        if len(pages) != pages[0].get("pages", 1):
            return None
        return [e["file"] for e in pages]

    def write(self, request: Request, scope: str, responses: list[Response], level: str) -> list[str]:
        """Write every page of a complete list, then record them in the manifest."""
        with self.lock:
            files = [request.file(scope, n) for n in range(1, len(responses) + 1)]
            for name in files:
                if (self.folder / name).exists():
                    raise FetchError(f"{self.folder / name}: exists but is not recorded in the "
                                     f"manifest (left by an interrupted run?); a capture is never "
                                     f"overwritten: move it away or fetch with --refresh")
            written = []
            for n, (name, r) in enumerate(zip(files, responses), start=1):
                atomic_write_bytes(self.folder / name, r.body)
                (self.folder / name).chmod(0o444)  # a capture is read-only once written
                written.append({
                    "file": name, "method": "POST", "url": r.url, "payload": r.payload,
                    "httpStatus": r.status, "contentType": r.content_type,
                    "capturedAt": r.captured_at, "sha256": sha256(r.body).hexdigest(),
                    "bytes": len(r.body), "period": request.period, "scope": scope,
                    "endpoint": request.endpoint, "page": n, "pages": len(responses),
                    "level": level, "verification": "status-json-envelope-and-shape-checked"})
            self.doc["captures"].extend(written)
            self.doc["baseUrl"] = self.base_url
            atomic_write_text(self.folder / MANIFEST,
                              json.dumps(self.doc, ensure_ascii=False, indent=2) + "\n")
            return files


def _capture_folders(raw_dir: Path) -> list[Path]:
    if not raw_dir.is_dir():
        return []
    found = [p for p in raw_dir.iterdir() if p.is_dir() and _FOLDER.match(p.name)]
    return sorted(found, key=lambda p: (_FOLDER.match(p.name)["date"], int(_FOLDER.match(p.name)["n"] or 1)))


def _choose_folder(raw_dir: Path, today: date, keys: set, refresh: bool, base_url: str) -> CaptureStore:
    """Resume in the newest folder that already holds lists of this request; else (and always
    with ``refresh``) today's folder, or ``<today>.N`` when today's holds any of them."""
    if not refresh:
        for folder in reversed(_capture_folders(raw_dir)):
            store = CaptureStore(folder, base_url=base_url)
            if store.held() & keys:
                return store
    n = 1
    while True:
        folder = raw_dir / (today.isoformat() + ("" if n == 1 else f".{n}"))
        store = CaptureStore(folder, base_url=base_url)
        if not (store.held() & keys):
            return store
        n += 1


# --- the fetch ----------------------------------------------------------------------------------

def _fetch_list(client: PortalClient, request: Request, page_size: int, bar) -> list[Response]:
    """Every page of one list, checked: no page repeats units of another, none is skipped."""
    if not request.paged:
        r = client.post(request.endpoint, request.payload,
                        province="rootDepartmentId" in request.payload)
        bar.update(1)
        return [r]
    pages: list[Response] = []
    seen: dict[str, int] = {}
    page = 1
    while True:
        payload = {**request.payload, "currentPage": page, "pageSize": page_size}
        r = client.post(request.endpoint, payload)
        bar.update(1)
        children = r.obj["data"]["children"]
        where = f"{request.endpoint} {_shown(payload)}"
        if not children:
            if page == 1:
                raise FetchError(f"{where}: the unit list data.children is empty although the "
                                 f"province has units (parent "
                                 f"{r.obj['data']['parent'].get('departmentCode')})")
            probe_payload = {**payload, "currentPage": page + 1}
            probe = client.post(request.endpoint, probe_payload)
            bar.update(1)
            if probe.obj["data"]["children"]:
                raise FetchError(f"{where}: page {page} came back empty but page {page + 1} holds "
                                 f"{len(probe.obj['data']['children'])} units: a page of the list "
                                 f"is missing")
            break
        repeated = [c["departmentCode"] for c in children if c["departmentCode"] in seen]
        if repeated:
            raise FetchError(f"{where}: page {page} repeats {len(repeated)} unit(s) of page "
                             f"{seen[repeated[0]]} (e.g. {repeated[0]}): the portal's paging is "
                             f"inconsistent")
        for c in children:
            seen[c["departmentCode"]] = page
        pages.append(r)
        if len(children) != page_size:  # a short page ends the list; a longer one is unpaged
            break
        page += 1
        bar.total = (bar.total or 0) + 1
        bar.refresh()
    return pages


class _NoBar:
    total = 0

    def update(self, n=1):
        pass

    def refresh(self):
        pass

    def close(self):
        pass


def fetch(province: str, period: str, raw_dir: Path | str, *, groups: str | list | None = None,
          level: str = "all", refresh: bool = False, options: FetchOptions | None = None,
          data_dir: Path | None = None, now: datetime | None = None,
          sleep: Callable[[float], None] = time.sleep) -> FetchResult:
    """Fetch one province and period into a capture folder under ``raw_dir``.

    Parameters
    ----------
    province : str
        A province code (``H44``), a root department id (UUID), a province id of units.csv, or
        ``national`` for the national service results only (the country's provinces).
    period : str
        ``YYYY-MM``, ``YYYY-QN`` or ``YYYY``; a running period becomes a snapshot to date.
    raw_dir : path
        Where capture folders live (``data/raw``).
    groups : str or list, optional
        See :func:`resolve_groups`; default all six groups and the service results.
    level : {'province', 'departments', 'communes', 'all'}
        Recorded in the manifest; the import of the capture keeps the units of these levels.
    refresh : bool
        Fetch everything again into a new capture folder.
    options : FetchOptions
    now : datetime, optional
        A fixed clock: the capture date and the ``capturedAt`` of every response (for replays
        of recorded captures; default the real clock).

    Returns
    -------
    FetchResult

    Raises
    ------
    ParameterError, FetchError
    """
    options = options or FetchOptions()
    if level not in LEVELS:
        raise ParameterError(f"parameter '--level': '{level}' is not one of {', '.join(LEVELS)}")
    if options.rate is not None and options.rate < 0:
        raise ParameterError("parameter '--rate': must be ≥ 0 requests per second (0: no limit)")
    if not 1 <= options.page_size <= 1000:
        raise ParameterError("parameter '--page-size': must be within 1–1000")
    endpoints = resolve_groups(groups) if not isinstance(groups, list) else groups
    local = vietnam_now(now)
    today = local.date()
    pid, time_fields, date_range = plan_period(period, today)
    national_only = province.strip().lower() in NATIONAL
    if national_only:
        if groups and not set(endpoints) <= {NATIONAL_LIST, UNITS_LIST}:
            raise ParameterError("parameter '--groups': the national list is service results "
                                 "only (give --groups national, or no --groups)")
        endpoints = [NATIONAL_LIST]
        root, code = None, None
    else:
        root, code = _province_argument(province, data_dir)
    raw_dir = Path(raw_dir)
    result = FetchResult(capture_dir=raw_dir, period=pid)
    fixed = vietnam_now(now) if now is not None else None
    client = PortalClient(options, sleep=sleep, clock=(lambda: fixed) if fixed else None)
    bar: Any = _NoBar()
    if options.progress:
        from tqdm import tqdm

        bar = tqdm(total=0, unit="req", desc=f"fetch {province} {pid}", file=sys.stderr, leave=False,
                   disable=None)  # shown on a terminal only
    raw_dir.mkdir(parents=True, exist_ok=True)
    lock = FileLock(str(raw_dir / ".fetch.lock"))
    national = Request(SERVICE_RESULTS, dict(time_fields), pid, None, paged=False)
    national_pages = None
    try:
        with client, lock:
            if national_only:
                store = _choose_folder(raw_dir, today, {national.key}, refresh, options.base_url)
                result.capture_dir = store.folder
                files = store.complete(national)
                if files:
                    result.skipped += files
                else:
                    bar.total += 1
                    pages = _fetch_list(client, national, options.page_size, bar)
                    result.fetched += store.write(national, "national", pages, level)
                return result
            if root is None:  # the national list names the province's root department id
                obj = None
                if not refresh:
                    for folder in reversed(_capture_folders(raw_dir)):
                        files = CaptureStore(folder, base_url=options.base_url).complete(national)
                        if files:
                            obj = json.loads((folder / files[0]).read_bytes())
                            break
                if obj is None:
                    bar.total += 1
                    national_pages = _fetch_list(client, national, options.page_size, bar)
                    obj = national_pages[0].obj
                match = _find_province(obj, None, code)
                if match is None:
                    raise FetchError(f"{SERVICE_RESULTS} {_shown(national.payload)}: no province "
                                     f"{code} among the {len(obj['data']['evaluation'])} provinces "
                                     f"listed")
                root, code = match
            result.root_department_id, result.province_code = root, code
            requests = []
            if UNITS_LIST in endpoints:
                requests.append(Request(SERVICE_RESULTS, {**time_fields, "rootDepartmentId": root},
                                        pid, root, paged=False))
            for endpoint in endpoints:
                if endpoint in GROUP_ENDPOINTS.values():
                    fields = date_range if endpoint in DATE_RANGE_ENDPOINTS else time_fields
                    requests.append(Request(endpoint, {"rootDepartmentId": root, **fields}, pid,
                                            root, paged=True))
            keys = {r.key for r in requests}
            store = _choose_folder(raw_dir, today, keys, refresh, options.base_url)
            result.capture_dir = store.folder
            if NATIONAL_LIST in endpoints:
                files = store.complete(national)
                if files:
                    result.skipped += files
                else:
                    if national_pages is None:
                        bar.total += 1
                        national_pages = _fetch_list(client, national, options.page_size, bar)
                    result.fetched += store.write(national, "national", national_pages, level)
            todo = []
            for r in requests:
                files = store.complete(r)
                if files:
                    result.skipped += files
                else:
                    todo.append(r)
            bar.total += len(todo)
            bar.refresh()
            _run(client, store, todo, options, bar, result, code, level)
    finally:
        bar.close()
        result.requests, result.bytes = client.requests, client.bytes
    return result


def _run(client: PortalClient, store: CaptureStore, todo: list[Request], options: FetchOptions,
         bar, result: FetchResult, code: str | None, level: str) -> None:
    """Fetch the lists, at most ``concurrency`` at a time; each list is written once complete.
    The first failure stops the lists not yet started and is raised after the others finish."""
    errors: list[BaseException] = []

    def one(request: Request) -> None:
        pages = _fetch_list(client, request, options.page_size, bar)
        data = pages[0].obj["data"]
        found = (data.get("parent") or data.get("overview") or {}).get("departmentCode")
        if code and found and found != code:
            raise FetchError(f"{request.endpoint} {_shown(request.payload)}: answered for "
                             f"{found}, not for {code}")
        result.fetched.extend(store.write(request, code or found or request.root, pages, level))

    with ThreadPoolExecutor(max_workers=max(1, options.concurrency)) as pool:
        futures = [pool.submit(one, r) for r in todo]
        done, pending = wait(futures, return_when=FIRST_EXCEPTION)
        for f in pending:
            f.cancel()
        for f in futures:
            if f.cancelled():
                continue
            exc = f.exception()
            if exc is not None:
                errors.append(exc)
    if errors:
        raise errors[0]


def _find_province(obj: dict, root: str | None, code: str | None) -> tuple[str, str] | None:
    for rec in obj["data"]["evaluation"]:
        rid, rcode = rec.get("departmentId"), rec.get("departmentCode")
        if (root and str(rid).lower() == root) or (code and rcode == code):
            return str(rid).lower(), rcode
    return None


# --- command line -------------------------------------------------------------------------------

def _rate(text: str) -> float | None:
    if text in ("", None):
        return 2.0
    try:
        value = float(text)
    except ValueError:
        raise ParameterError(f"parameter '--rate': '{text}' is not a number of requests per second "
                             f"(0 turns the limit off)") from None
    if value < 0 or value != value or value == float("inf"):
        raise ParameterError(f"parameter '--rate': {text} must be ≥ 0 requests per second")
    return value or None


def _base_url(text: str) -> str:
    if not text:
        return DEFAULT_BASE_URL
    url = httpx.URL(text) if re.match(r"^https?://[^\s/]+", text) else None
    if url is None or url.scheme not in ("http", "https") or not url.host:
        raise ParameterError(f"parameter '--base-url': '{text}' is not an http(s) address like "
                             f"{DEFAULT_BASE_URL}")
    return text.rstrip("/")


def _cmd_fetch(args) -> int:
    options = FetchOptions(base_url=_base_url(args.base_url), rate=_rate(args.rate),
                           concurrency=args.concurrency, page_size=args.page_size,
                           retries=args.retries, read_timeout=args.timeout,
                           progress=not args.quiet)
    if not 1 <= args.concurrency <= 16:
        raise ParameterError("parameter '--concurrency': must be within 1–16")
    result = fetch(args.province, args.period, args.raw, groups=args.groups or None,
                   level=args.level or "all", refresh=args.refresh, options=options,
                   data_dir=args.data)
    print("\n".join(result.lines()))
    if args.data is not None and not args.no_import:
        from .importers.command import run_import

        files = [result.capture_dir / f for f in result.fetched + result.skipped]
        report = run_import(files, args.data)
        print("\n".join(report.lines()))
    return 0


def add_parser(subparsers):
    """Add the ``fetch`` subcommand to an ``argparse`` subparsers object.

    Examples
    --------
    >>> import argparse
    >>> parser = argparse.ArgumentParser(prog="python -m analysis")
    >>> _ = add_parser(parser.add_subparsers(dest="command"))
    >>> args = parser.parse_args(["fetch", "--province", "H44", "--period", "2026-08", "--raw", "r"])
    >>> args.province, args.period, str(args.raw), args.level, args.refresh
    ('H44', '2026-08', 'r', 'all', False)
    """
    p = subparsers.add_parser(
        "fetch", help="fetch a province and period from the national portal (raw responses kept)",
        description="Fetch the 766 figures of one province and period from the national portal's "
                    "API into a capture folder RAW/<capture date>/ (raw responses as received, "
                    "checked, with a manifest), then import them into --data when given. A rerun "
                    "skips what is already captured; nothing is ever overwritten.")
    p.add_argument("--province", required=True,
                   help="province code (H44), root department id (UUID), province id of units.csv "
                        "(phu-tho), or 'national' for the national service results only")
    p.add_argument("--period", required=True,
                   help="YYYY-MM, YYYY-QN or YYYY; a running period is captured as a snapshot to "
                        "date (period id YYYY-mtd-MM-DD, YYYY-qtd-MM-DD, YYYY-ytd-MM-DD)")
    p.add_argument("--raw", type=Path, required=True, help="folder of the capture folders (data/raw)")
    p.add_argument("--groups", default="",
                   help="comma-separated: CKMB, TDGQ, ONLINE, TTTT, MDHL, MDSH, results (service "
                        "results: national = the provinces, units = the province's units) "
                        "(default: all six and the service results)")
    p.add_argument("--level", default="all", choices=[*LEVELS, ""],
                   help="units kept on import (default all; the raw responses are always whole)")
    p.add_argument("--base-url", default="", help=f"portal address (default {DEFAULT_BASE_URL})")
    p.add_argument("--rate", default="",
                   help="at most this many requests per second (default 2; 0 = no limit, only for "
                        "a local replay)")
    p.add_argument("--concurrency", type=int, default=4, help="requests in flight at most (default 4)")
    p.add_argument("--page-size", type=int, default=200, help="units per page (default 200, the "
                                                              "portal's maximum)")
    p.add_argument("--retries", type=int, default=5, help="retries of a failed request (default 5)")
    p.add_argument("--timeout", type=float, default=60.0, help="read timeout in seconds (default 60)")
    p.add_argument("--refresh", action="store_true",
                   help="fetch everything again into a new capture folder")
    p.add_argument("--data", type=Path, default=None,
                   help="import the capture into this data directory afterwards")
    p.add_argument("--no-import", action="store_true", help="with --data: fetch only")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=_cmd_fetch)
    return p
