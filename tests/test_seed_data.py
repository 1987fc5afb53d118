"""Every per-unit table of every seed report is in data/ with the same units and values.

The expected rows are parsed here from the seed texts themselves (../shared/seeds), with
regular expressions written for this test, and data/ is read with the csv module: neither side
goes through the project's loader, so a bug there cannot hide a transcription error.
"""
from __future__ import annotations

import csv
import re
import unicodedata
from collections import defaultdict
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "data"
SEEDS = ROOT.parent / "shared" / "seeds"

pytestmark = pytest.mark.skipif(not SEEDS.is_dir(), reason=f"seed reports not found at {SEEDS} "
                                "(../shared is beside the clone in CI)")


def rows(table: str) -> list[dict]:
    with open(DATA / f"{table}.csv", encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


def seed(prefix: str) -> str:
    (path,) = SEEDS.glob(f"{prefix}_*.txt")
    return unicodedata.normalize("NFC", path.read_text(encoding="utf-8"))


def vn(text: str, *, count: bool = False) -> float:
    """Independent reading of the seeds' numbers: comma decimal, point thousands in counts,
    and a point decimal where a rate is printed the English way (Sa Đéc's 51.53)."""
    s = re.sub(r"<[^>]+>", "", text).strip()
    if "," in s:
        return float(s.replace(".", "").replace(",", "."))
    if count:
        return float(s.replace(".", ""))
    return float(s)


def alias_map(source_id: str) -> dict[str, str]:
    out = {}
    for r in rows("unit_aliases"):
        if r["source_id"] == source_id:
            out[r["alias"]] = r["unit_id"]
    for r in rows("units"):
        out.setdefault(r["name"], r["unit_id"])
    return out


def unit_of(name: str, source_id: str) -> str:
    names = alias_map(source_id)
    assert name.strip() in names, f"'{name.strip()}' of {source_id} is not in unit_aliases.csv"
    return names[name.strip()]


def published(table: str, source_id: str, field: str, code: str, *, measure: str | None = None,
              period: str | None = None, column: str = "value") -> dict[str, dict[str, float]]:
    """section -> unit_id -> value for one group/indicator of one source."""
    out: dict[str, dict[str, float]] = defaultdict(dict)
    for r in rows(table):
        if r["source_id"] != source_id or r[field] != code:
            continue
        if measure and r["measure"] != measure:
            continue
        if period and r["period_id"] != period:
            continue
        if r[column] != "":
            out[r["section"]][r["unit_id"]] = float(r[column])
    return out


def assert_table_in_data(expected: dict[str, float], sections: dict[str, dict[str, float]], what: str):
    """Some section of the data holds exactly the expected units with the expected values."""
    assert expected, f"no rows parsed from the seed for {what}"
    for section, values in sections.items():
        if set(values) == set(expected):
            diffs = {u: (expected[u], values[u]) for u in expected if abs(expected[u] - values[u]) > 1e-9}
            assert not diffs, f"{what}: values differ in section '{section}' (seed, data): {diffs}"
            return
    closest = max(sections.items(), key=lambda kv: len(set(kv[1]) & set(expected)), default=(None, {}))
    raise AssertionError(f"{what}: no section of data/ holds the same units; closest '{closest[0]}' "
                         f"missing {sorted(set(expected) - set(closest[1]))} "
                         f"extra {sorted(set(closest[1]) - set(expected))}")


def block(text: str, start: str, stop: str) -> str:
    i = text.index(start)
    j = text.index(stop, i + len(start))
    return text[i:j]


# --- 000 Na Rì, 07/2024 -------------------------------------------------------------------
NARI = "nari-2024-07"


def test_nari_overdue_table():
    text = block(seed("000"), "THỐNG KÊ HỒ SƠ XỬ LÝ QUÁ HẠN", "Hiện 5 trong 5")
    expected, codes = {}, {}
    for name, code, n in re.findall(r"^\d+\t([^\t]+)\t(\d{3}\.\d{2}\.\d{2}\.H\d{2})\t(\d+)\t", text, re.M):
        uid = unit_of(name, NARI)
        expected[uid] = vn(n, count=True)
        codes[uid] = code
    assert len(expected) == 5
    assert_table_in_data(expected, published("indicators", NARI, "indicator", "overdue_dossiers"), "Na Rì overdue")
    unit_codes = {r["unit_id"]: r["code"] for r in rows("units")}
    assert {u: unit_codes[u] for u in codes} == codes


@pytest.mark.parametrize("title, stop, indicator", [
    ("TỶ LỆ PHÁT SINH HỒ SƠ TRỰC TUYẾN", "3.2.", "online_submission_rate"),
    ("TỶ LỆ THANH TOÁN TRỰC TUYẾN TẠI", "4. Điểm", "online_payment_rate"),
])
def test_nari_rate_tables(title, stop, indicator):
    text = block(seed("000"), title, stop)
    expected = {unit_of(name, NARI): vn(rate)
                for name, rate in re.findall(r"^\d+\t(UBND [^\t]+)\t([\d,]+)\s*$", text, re.M)}
    assert len(expected) == 17
    assert_table_in_data(expected, published("indicators", NARI, "indicator", indicator, measure="percent"), indicator)


def test_nari_e_certification_table():
    text = block(seed("000"), "SỐ LIỆU CUNG CẤP DỊCH VỤ CHỨNG THỰC", "II. Kết quả")
    found = re.findall(r"^\d+\. ([^\t]+)\t(\d+)/(\d+)\s*\t+([\d.]+)\s*$", text, re.M)
    assert len(found) == 17
    copies = {unit_of(n, NARI): vn(c, count=True) for n, _, _, c in found}
    deployed = {unit_of(n, NARI): float(a) for n, a, _, _ in found}
    assert_table_in_data(copies, published("indicators", NARI, "indicator", "e_certified_copies"), "Na Rì e-cert copies")
    assert_table_in_data(deployed, published("indicators", NARI, "indicator", "e_cert_units_deployed"), "Na Rì e-cert deployed")


def test_nari_commune_classification_table():
    text = seed("000").split("KẾT QUẢ ĐÁNH GIÁ, XẾP LOẠI CẤP XÃ")[1].split("III.")[0]
    header = re.findall(r"\(Tổng điểm (\d+)\)", text)
    assert header == ["18", "20", "22", "18", "22", "100"]
    found = re.findall(r"^(\d+)\t(UBND [^\t]+)\t([\d,]+)\t([\d,]+)\t([\d,]+)\t([\d,]+)\t([\d,]+)\t([\d,]+)\t(\S+)\s*$",
                       text, re.M)
    assert len(found) == 17
    groups = ["CKMB", "TDGQ", "DVTT", "MDHL", "MDSH", "TOTAL"]
    for i, group in enumerate(groups):
        expected = {unit_of(r[1], NARI): vn(r[2 + i]) for r in found}
        assert_table_in_data(expected, published("scores", NARI, "group", group), f"Na Rì {group}")
        maxima = published("scores", NARI, "group", group, column="max_stated")
        assert any(set(v.values()) == {float(header[i])} and set(v) == set(expected) for v in maxima.values())
    ranks = {unit_of(r[1], NARI): float(r[0]) for r in found}
    assert_table_in_data(ranks, published("scores", NARI, "group", "TOTAL", column="rank"), "Na Rì rank")
    bands = {unit_of(r[1], NARI): r[8] for r in found}
    data_bands = {r["unit_id"]: r["band"] for r in rows("scores")
                  if r["source_id"] == NARI and r["group"] == "TOTAL" and r["unit_id"] in bands}
    assert data_bands == bands


# --- 001 Sa Đéc, 11/2022 ------------------------------------------------------------------
SADEC = "sadec-2022-11"


def pipe_rows(text: str, n: int) -> list[list[str]]:
    out = []
    for line in text.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if line.startswith("|") and len(cells) == n and not set(cells[0]) <= set("-") \
                and cells[0] not in ("STT", "Đơn vị"):
            out.append(cells)
    return out


def signed_change(text: str) -> float:
    m = re.match(r"(Giảm|Tăng)\s+([\d,]+)", text)
    return vn(m[2]) * (-1 if m[1] == "Giảm" else 1)


def test_sadec_ward_ranking_tables():
    text = seed("001")
    first = pipe_rows(block(text, "| STT | Đơn vị | Điểm đánh giá", "XẾP HẠNG TỈNH"), 5)
    assert len(first) == 9
    totals = {unit_of(r[1], SADEC): vn(r[2]) for r in first}
    changes = {unit_of(r[1], SADEC): signed_change(r[3]) for r in first}
    ranks = {unit_of(r[1], SADEC): float(r[0]) for r in first}
    assert_table_in_data(totals, published("scores", SADEC, "group", "TOTAL", period="2022-11"), "Sa Đéc totals")
    assert_table_in_data(changes, published("scores", SADEC, "group", "TOTAL", column="change"), "Sa Đéc changes")
    assert_table_in_data(ranks, published("scores", SADEC, "group", "TOTAL", column="rank"), "Sa Đéc ranks")
    second = pipe_rows(block(text, "XẾP HẠNG TỈNH", "II. NHÓM"), 2)
    assert len(second) == 9
    parsed = [re.match(r"\d+\. (.+)", r[0])[1] for r in second]
    values = [re.match(r"([\d,]+) ▼([\d,]+)", r[1]) for r in second]
    totals2 = {unit_of(n, SADEC): vn(v[1]) for n, v in zip(parsed, values)}
    changes2 = {unit_of(n, SADEC): -vn(v[2]) for n, v in zip(parsed, values)}
    sections = published("scores", SADEC, "group", "TOTAL", period="2022-11")
    assert sum(1 for s in sections.values() if s == totals2) == 2, "both ranking tables are recorded"
    assert sum(1 for s in published("scores", SADEC, "group", "TOTAL", column="change").values() if s == changes2) == 2


def test_sadec_on_time_table():
    rows_ = pipe_rows(block(seed("001"), "| STT | Đơn vị | Tỷ lệ đúng hạn", "TÌNH HÌNH KẾT QUẢ XỬ LÝ HỒ SƠ TTHC\n\n\n\n- Đối"), 4)
    assert len(rows_) == 9
    rates = {unit_of(r[1], SADEC): vn(r[2]) for r in rows_}
    points = {unit_of(r[1], SADEC): vn(r[3].split("/")[0]) for r in rows_}
    assert rates[unit_of("UBND Phường 3", SADEC)] == 51.53
    assert_table_in_data(rates, published("indicators", SADEC, "indicator", "on_time_rate"), "Sa Đéc on-time")
    assert_table_in_data(points, published("scores", SADEC, "group", "TDGQ"), "Sa Đéc TDGQ points")


def test_sadec_overdue_table():
    rows_ = pipe_rows(block(seed("001"), "| STT | Tên cơ quan/đơn vị | Mã định danh", "Hiện 10 trong 10"), 5)
    assert len(rows_) == 10
    expected = {unit_of(r[1], SADEC): vn(r[3], count=True) for r in rows_}
    assert_table_in_data(expected, published("indicators", SADEC, "indicator", "overdue_dossiers"), "Sa Đéc overdue")
    unit_codes = {r["unit_id"]: r["code"] for r in rows("units")}
    assert all(unit_codes[unit_of(r[1], SADEC)] == r[2] for r in rows_)


@pytest.mark.parametrize("start, stop, n", [
    ("| 1. UBND thành phố Hồng Ngự", "- Đối với các xã, phường trong tháng 11", 10),
    ("| 1. UBND Phường 1 - Tỉnh", "6.3. Nguyên nhân", 9),
])
def test_sadec_e_certification_tables(start, stop, n):
    text = seed("001")
    part = text[text.index(start):text.index(stop)]
    rows_ = pipe_rows(part, 3)
    assert len(rows_) == n
    names = [re.match(r"\d+\. (.+)", r[0])[1] for r in rows_]
    copies = {unit_of(nm, SADEC): vn(r[2], count=True) for nm, r in zip(names, rows_)}
    deployed = {unit_of(nm, SADEC): float(r[1].split("/")[0]) for nm, r in zip(names, rows_)}
    denominators = {unit_of(nm, SADEC): float(r[1].split("/")[1]) for nm, r in zip(names, rows_)}
    assert_table_in_data(copies, published("indicators", SADEC, "indicator", "e_certified_copies"), "e-cert copies")
    assert_table_in_data(deployed, published("indicators", SADEC, "indicator", "e_cert_units_deployed"), "e-cert deployed")
    assert_table_in_data(denominators, published("indicators", SADEC, "indicator", "e_cert_units_deployed",
                                                 column="denominator"), "e-cert denominators")


# --- 002 Phú Tân, 2024-05 week 1 ----------------------------------------------------------
PHUTAN = "phutan-2024-05-w1"


def test_phutan_appendix():
    text = seed("002").split("STT\tĐƠN VỊ")[1]
    found = []
    for line in text.splitlines():
        cells = line.split("\t")
        if len(cells) == 13 and (cells[0].isdigit() or cells[1] == "TOÀN HUYỆN"):
            found.append(cells)
    assert len(found) == 19
    by_unit = {unit_of(c[1], PHUTAN): c for c in found}
    clean = lambda s: re.sub(r"</?u>", "", s)  # noqa: E731
    checks = [("scores", "group", "TOTAL", 2, "value", "2024-05-w1"),
              ("scores", "group", "TOTAL", 4, "value", "2024-04"),
              ("scores", "group", "TOTAL", 5, "change", "2024-05-w1")]
    for table, field, code, col, column, period in checks:
        expected = {u: vn(clean(c[col])) for u, c in by_unit.items()}
        assert_table_in_data(expected, published(table, PHUTAN, field, code, period=period, column=column),
                             f"Phú Tân column {col}")
    for col, indicator in [(6, "transparency_rate"), (7, "on_time_rate"), (8, "online_service_rate"),
                           (9, "online_payment_rate"), (10, "digitised_dossiers_rate"), (11, "reuse_rate"),
                           (12, "e_certified_copy_rate")]:
        expected = {u: vn(clean(c[col])) for u, c in by_unit.items()}
        assert_table_in_data(expected, published("indicators", PHUTAN, "indicator", indicator), indicator)
    bands = {u: clean(c[3]) for u, c in by_unit.items()}
    canonical = {"TỐT": "Tốt", "KHÁ": "Khá", "TB": "Trung bình"}
    data_bands = {r["unit_id"]: r["band"] for r in rows("scores") if r["source_id"] == PHUTAN
                  and r["group"] == "TOTAL" and r["period_id"] == "2024-05-w1" and r["band"]}
    assert data_bands == {u: canonical[b] for u, b in bands.items()}
    marked = {(r["unit_id"], r["group"]) for r in rows("scores") if r["source_id"] == PHUTAN and r["marked"] == "true"}
    assert (unit_of("PHÚ LONG", PHUTAN), "TOTAL") in marked
    underlined = {r["unit_id"] for r in rows("indicators") if r["source_id"] == PHUTAN
                  and r["indicator"] == "transparency_rate" and r["marked"] == "true"}
    assert underlined == {unit_of(n, PHUTAN) for n in ("CHỢ VÀM", "LONG HÒA", "HÒA LẠC", "BÌNH THẠNH ĐÔNG", "PHÚ LONG")}


# --- 004 Bắc Kạn, January–July 2024 ------------------------------------------------------
def test_backan_series():
    found = re.findall(r"Tháng (\d):\s([\d,]+)/100\sđiểm,\sxếp\sthứ\s(\d+)/63", seed("004"))  # one space is a no-break space
    assert len(found) == 7
    series = {f"2024-{int(m):02d}": (vn(v), float(r)) for m, v, r in found}
    data = {}
    for r in rows("scores"):
        if r["source_id"] == "backan-2024-07" and r["unit_id"] == "bac-kan" and r["group"] == "TOTAL":
            data.setdefault(r["period_id"], set()).add((float(r["value"]), float(r["rank"])))
    assert all(series[p] in data.get(p, set()) for p in series), (series, data)


def test_every_seed_has_a_source_row_with_its_hash():
    import hashlib

    sources = {r["origin"]: r for r in rows("sources")}
    for path in sorted(SEEDS.glob("*.txt")):
        row = sources[f"shared/seeds/{path.name}"]
        assert row["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()


def test_variant_spellings_resolve_to_one_unit():
    """Na Rì prints Liêm Thủy three ways across tables; each spelling is recorded and they all
    lead to one unit, through the project's resolver too."""
    from analysis.config import DATA_DIR
    from analysis.dataset import load_dataset
    from analysis.units import UnitIndex

    index = UnitIndex.from_dataset(load_dataset(DATA_DIR))
    spellings = ["UBND xã Liên Thủy", "UBND xã Liêm Thủy", "UBND xã Liềm Thủy - tỉnh Bắc Kạn"]
    ids = index.resolve_names(spellings, province="bac-kan")
    assert ids == ["bac-kan/huyen-na-ri/xa-liem-thuy"] * 3
    recorded = {r["alias"] for r in rows("unit_aliases") if r["unit_id"] == ids[0]}
    assert set(spellings) <= recorded
