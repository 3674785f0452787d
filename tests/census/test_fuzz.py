"""Malformed and fuzzed census files (well over 200): each is refused with a reason or imported
whole; none writes part of itself, none raises anything but a ServiceError, and through the
API none answers 500."""

import io
import random
import struct
import zipfile

import pytest
from django.urls import reverse

from gaizao.accounts.scoping import Role
from gaizao.core.errors import ServiceError
from gaizao.core.jobs import execute_job
from gaizao.core.models import AuditEntry, Job
from gaizao.estates.census.importer import census_import
from gaizao.estates.models import Estate

from ..conftest import make_user
from .sheets import HEADERS, csv_bytes, good_row, ods_bytes, xlsx_bytes

pytestmark = pytest.mark.django_db

JUNK = ["", " ", "N/A", "#DIV/0!", "TRUE", "是的吧", "1e308", "-0", "９９９９９９９９９９", "1995-02-30", "\u200b",
        "𠀀𠀁", "<script>", "'; DROP TABLE estates;--", "NaN", "inf", "0x1F", "1,2,3", "12.5.6", "一千", "30%%",
        "=1/0", "+1", "@A1", "\t", "——", "／", "1995年13月", 10**15, -1, 1e-9, 3.5, True, False, 2958466, 0]


def wrong_types(rng):
    rows = []
    for i in range(rng.randint(1, 12)):
        row = good_row(i)
        for header in rng.sample(HEADERS, rng.randint(1, 6)):
            row[header] = rng.choice(JUNK)
        rows.append(row)
    return xlsx_bytes(rows) if rng.random() < 0.6 else csv_bytes(rows, encoding=rng.choice(["utf-8", "gb18030"]))


def no_header(rng):
    rows = [[rng.choice(JUNK + ["西湖区", "小区", 1995]) for _c in range(rng.randint(1, 20))] for _r in range(10)]
    if rng.random() < 0.5:
        return xlsx_bytes(rows[1:], headers=[str(x) for x in rows[0]])
    return "\n".join(",".join(str(x) for x in row) for row in rows).encode("utf-8")


def huge_cells(rng):
    big = rng.choice(["长" * 32000, "x" * 32767, "1" * 5000, "、".join(["供水设施"] * 6000)])
    row = good_row(1, **{rng.choice(HEADERS): big})
    if rng.random() < 0.5:
        return xlsx_bytes([row, good_row(2)])
    return csv_bytes([row, good_row(2, **{"地址": "y" * 900_000})])


def garbage(rng):
    prefix = rng.choice([b"", b"PK\x03\x04", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", b"\xef\xbb\xbf", b"\xff\xfe",
                         b"PK\x05\x06", b"%PDF-1.7", b"\x89PNG\r\n\x1a\n", b"<?xml version='1.0'?>"])
    return prefix + bytes(rng.getrandbits(8) for _i in range(rng.randint(0, 4000)))


def _zip(members: dict[str, bytes], method=zipfile.ZIP_DEFLATED) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", method) as z:
        for name, data in members.items():
            z.writestr(name, data)
    return buffer.getvalue()


def zip_bomb(rng):
    kind = rng.randrange(6)
    if kind == 0:  # one member, very high ratio
        return _zip({"[Content_Types].xml": b"<Types/>", "xl/worksheets/sheet1.xml": b"\0" * (60 << 20)})
    if kind == 1:  # many small members adding up
        return _zip({"[Content_Types].xml": b"<Types/>", **{f"xl/m{i}.xml": b"a" * (1 << 20) for i in range(40)}})
    if kind == 2:  # declared size smaller than the real one
        data = bytearray(_zip({"[Content_Types].xml": b"<Types/>", "xl/worksheets/sheet1.xml": b"<x/>" * 500000}))
        for sig, offset in ((b"PK\x03\x04", 22), (b"PK\x01\x02", 24)):
            pos = data.find(sig)
            while pos >= 0:
                data[pos + offset:pos + offset + 4] = struct.pack("<I", 100)
                pos = data.find(sig, pos + 4)
        return bytes(data)
    if kind == 3:  # too many members
        return _zip({"[Content_Types].xml": b"<Types/>", **{f"xl/{i}.xml": b"" for i in range(6000)}},
                    zipfile.ZIP_STORED)
    if kind == 4:  # encrypted flag set
        data = bytearray(_zip({"[Content_Types].xml": b"<Types/>", "xl/workbook.xml": b"<w/>"}))
        pos = data.find(b"PK\x01\x02")
        data[pos + 8] |= 1
        return bytes(data)
    # a valid xlsx whose sheet is replaced by a bomb
    good = zipfile.ZipFile(io.BytesIO(xlsx_bytes([good_row(1)])))
    members = {n: good.read(n) for n in good.namelist()}
    members["xl/worksheets/sheet1.xml"] = b"<worksheet>" + b" " * (80 << 20) + b"</worksheet>"
    return _zip(members)


def formulas(rng):
    rows = [good_row(i, **{rng.choice(["户数", "建成年份", "小区名称", "楼栋数"]): rng.choice(
        ["=1/0", "=A1", "=SUM(H2:H3)", "=NOW()", "=HYPERLINK(\"http://x\")", "=\"西湖区\"", "=1995"])})
            for i in range(rng.randint(1, 5))]
    return xlsx_bytes(rows)


def wrong_encoding(rng):
    text = "小区名称,县（市、区）,街道（乡镇）,建成年份\n翠苑一区,西湖区,西溪街道,1995\n"
    encoding = rng.choice(["big5", "shift_jis", "euc_kr", "utf-16-le", "utf-16-be", "utf-32", "latin-1", "cp1252",
                           "utf-7", "hz", "iso2022_jp"])
    try:
        data = text.encode(encoding)
    except UnicodeEncodeError:
        data = text.encode(encoding, errors="replace")
    if rng.random() < 0.3:
        data = text.encode("utf-8")[:40] + text.encode("gbk")[40:]
    return data


def truncated(rng):
    data = xlsx_bytes([good_row(i) for i in range(20)]) if rng.random() < 0.7 else ods_bytes([good_row(1)])
    return data[:rng.randint(1, len(data) - 1)]


def mutated(rng):
    data = bytearray(xlsx_bytes([good_row(i) for i in range(5)]))
    for _i in range(rng.randint(1, 30)):
        data[rng.randrange(len(data))] = rng.getrandbits(8)
    return bytes(data)


def structural(rng):
    kind = rng.randrange(8)
    if kind == 0:
        return b""
    if kind == 1:
        return xlsx_bytes([])
    if kind == 2:
        return xlsx_bytes([good_row(1)], headers=HEADERS + [f"多余列{i}" for i in range(250)])
    if kind == 3:
        return csv_bytes([good_row(1)], headers=HEADERS * 12)
    if kind == 4:
        return xlsx_bytes([good_row(1)], headers=HEADERS + HEADERS)  # every header twice
    if kind == 5:
        return b"\n\n\n,,,\n" * 100
    if kind == 6:
        return xlsx_bytes([[None] * 5] * 30 + [good_row(1)], title="只有标题")
    return csv_bytes([good_row(i) for i in range(300)])  # over the lowered row cap


GENERATORS = [("wrong_types", wrong_types, 45), ("no_header", no_header, 15), ("huge_cells", huge_cells, 12),
              ("garbage", garbage, 40), ("zip_bomb", zip_bomb, 12), ("formulas", formulas, 15),
              ("wrong_encoding", wrong_encoding, 22), ("truncated", truncated, 20), ("mutated", mutated, 20),
              ("structural", structural, 16)]
CASES = [(name, seed) for name, _fn, n in GENERATORS for seed in range(n)]
assert len(CASES) >= 200


def make(name: str, seed: int) -> bytes:
    fn = next(f for n, f, _c in GENERATORS if n == name)
    return fn(random.Random(f"{name}-{seed}"))


@pytest.fixture
def small_caps(settings):
    settings.CENSUS_MAX_ROWS = 200
    settings.CENSUS_MAX_UNCOMPRESSED_BYTES = 50 * 1024 * 1024


@pytest.mark.parametrize("name, seed", CASES, ids=[f"{n}-{s}" for n, s in CASES])
def test_malformed_file_is_refused_or_imported_whole(zhejiang, small_caps, name, seed):
    data = make(name, seed)
    valid_only = seed % 5 == 4
    try:
        report = census_import(actor=None, data=data, filename=f"{name}.bin", dry_run=False, valid_only=valid_only)
    except ServiceError as exc:
        assert exc.message and exc.code in ("census_file_invalid", "census_rows_invalid")
        assert Estate.objects.count() == 0
        assert not AuditEntry.objects.filter(verb="estates.census_import").exists()
        return
    assert report["committed"]
    assert Estate.objects.count() == report["created"]
    assert AuditEntry.objects.filter(verb="estates.census_import").count() == report["created"]
    if not valid_only:
        assert report["error_count"] == 0


API_CASES = CASES[::6]


@pytest.mark.parametrize("name, seed", API_CASES, ids=[f"api-{n}-{s}" for n, s in API_CASES])
def test_malformed_upload_never_answers_500(zhejiang, small_caps, api_client, django_capture_on_commit_callbacks,
                                            name, seed):
    api_client.force_authenticate(make_user(Role.COUNTY_OFFICIAL, username="fuzz"))
    upload = io.BytesIO(make(name, seed))
    upload.name = f"{name}.xlsx"
    with django_capture_on_commit_callbacks(execute=False):
        response = api_client.post(reverse("api:estate-import"), {"file": upload}, format="multipart")
    assert response.status_code in (202, 400), response.status_code
    if response.status_code == 400:
        assert response.json()["code"] in ("census_file_invalid", "invalid")
        return
    job = Job.objects.get(pk=response.json()["id"])
    execute_job(job)
    job.refresh_from_db()
    # a failure is a refusal with a code, never an unexpected exception
    assert job.status == "succeeded" or (job.result or {}).get("code") in ("census_file_invalid",
                                                                          "census_rows_invalid"), job.error
    if job.status == "failed":
        assert Estate.objects.count() == 0
