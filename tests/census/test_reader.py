"""Reading files as counties send them: kinds by content, encodings, headers, bombs."""

import codecs
import io
import struct
import zipfile

import pytest

from gaizao.estates.census.columns import HEADER_INDEX
from gaizao.estates.census.reader import (
    CensusFileError,
    decode_text,
    locate_table,
    normalise_header,
    open_book,
)

from .sheets import HEADERS, csv_bytes, good_row, ods_bytes, xlsx_bytes


def table_of(data: bytes):
    book = open_book(data)
    for sheet in book.sheets:
        table = locate_table(sheet, HEADER_INDEX)
        if table is not None:
            return book, table
    return book, None


@pytest.mark.parametrize("written, field", [
    (" 建成年代 ", "built_year"), ("县(市、区)", "county"), ("县（市、区）*", "county"), ("建筑面积(平方米)", "floor_area"),
    ("街道 （乡镇）", "street"), ("居民改造意愿(％)", "willingness"), ("小区名称※", "name"), ("经 度", "longitude"),
    ("所属社区", "community"), ("楼栋数（幢）", "buildings"),
])
def test_header_spellings(written, field):
    assert HEADER_INDEX.field_for(written) == field, normalise_header(written)


def test_title_and_note_rows_above_the_header():
    data = xlsx_bytes([good_row(1), good_row(2)], title="西湖区老旧小区调查摸底表", notes=["填表单位：西湖区住建局", ""])
    _book, table = table_of(data)
    assert table.header_row == 4
    rows = list(table.rows)
    assert [number for number, _cells in rows] == [5, 6]


def test_two_level_header():
    headers = ["小区名称", "县（市、区）", "街道（乡镇）", "建成年份", "是否", "", ""]
    second = ["", "", "", "", "纳入棚改计划", "位于历史文化街区", "多孔预制楼板"]
    data = xlsx_bytes([second, ["甲", "西湖区", "西溪街道", 1990, "是", "否", "否"]], headers=headers)
    _book, table = table_of(data)
    assert {"in_shantytown_plan", "in_historic_district", "has_precast_slab_hazard"} <= set(table.fields)
    assert [n for n, _c in table.rows] == [3]


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "gbk", "gb18030", "utf-16"])
def test_csv_encodings(encoding):
    data = csv_bytes([good_row(1)], encoding=encoding)
    book, table = table_of(data)
    assert book.kind == "csv" and table is not None
    (_n, cells), = list(table.rows)
    assert cells[table.fields["name"]] == "测试小区1"


def test_csv_with_tabs_and_preamble():
    data = csv_bytes([good_row(1)], delimiter="\t", preamble=["西湖区调查表", "2019年"])
    _book, table = table_of(data)
    assert table.header_row == 3


def test_unknown_encoding_is_refused():
    data = "小区名称,县\n".encode()[:-2] + b"\xff\xfe\xfa\x00\x00"
    with pytest.raises(CensusFileError):
        open_book(data)
    with pytest.raises(CensusFileError):
        decode_text(codecs.BOM_UTF8 + b"\xff\xff\xff")


def test_kind_by_content_not_name():
    data = xlsx_bytes([good_row(1)])
    assert open_book(data, filename="looks-like.csv").kind == "xlsx"
    assert open_book(ods_bytes([good_row(1)]), filename="x.xlsx").kind == "ods"
    with pytest.raises(CensusFileError):
        open_book(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n" + bytes(range(256)) * 10, filename="a.xlsx")


def test_ods_reads():
    _book, table = table_of(ods_bytes([good_row(1), good_row(2)]))
    assert [n for n, _c in table.rows] == [2, 3]


def _bomb(declared_small: bool) -> bytes:
    """An xlsx-looking zip whose sheet inflates to 300 MB of zeros."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("[Content_Types].xml", "<Types/>")
        with z.open("xl/worksheets/sheet1.xml", "w", force_zip64=False) as member:
            chunk = b"\0" * (1 << 20)
            for _i in range(300):
                member.write(chunk)
    data = bytearray(buffer.getvalue())
    if declared_small:
        # rewrite the declared uncompressed size of the sheet to 1 KB in both headers
        name = b"xl/worksheets/sheet1.xml"
        for sig, offset in ((b"PK\x03\x04", 22), (b"PK\x01\x02", 24)):
            pos = data.find(sig + b"")
            while pos >= 0:
                nlen_at = 26 if sig == b"PK\x03\x04" else 28
                nlen = struct.unpack("<H", data[pos + nlen_at:pos + nlen_at + 2])[0]
                start = pos + (30 if sig == b"PK\x03\x04" else 46)
                if bytes(data[start:start + nlen]) == name:
                    data[pos + offset:pos + offset + 4] = struct.pack("<I", 1024)
                pos = data.find(sig, pos + 4)
    return bytes(data)


@pytest.mark.parametrize("lying", [False, True])
def test_zip_bombs_are_refused(lying):
    with pytest.raises(CensusFileError) as exc:
        open_book(_bomb(lying))
    assert exc.value.fields["reason"] == "zip_bomb"


def test_cell_far_out_is_refused_before_calamine(settings):
    buffer = io.BytesIO()
    import xlsxwriter

    wb = xlsxwriter.Workbook(buffer)
    ws = wb.add_worksheet()
    ws.write_row(0, 0, HEADERS)
    ws.write_string(1048575, 16383, "x")
    wb.close()
    with pytest.raises(CensusFileError) as exc:
        open_book(buffer.getvalue())
    assert exc.value.fields["reason"] == "too_large"


def test_upload_size_cap(settings):
    settings.CENSUS_MAX_UPLOAD_BYTES = 1000
    with pytest.raises(CensusFileError) as exc:
        open_book(csv_bytes([good_row(i) for i in range(50)]))
    assert exc.value.fields["reason"] == "too_large"


# A file whose name and content disagree: recognised by its content, and when that content is no census,
# the message says first what the file really is. Plain text where a spreadsheet was promised is then told
# what to upload and nothing about the header row the text lacks (QA: a second sentence about the missing
# census header misled); a workbook named .csv keeps what is wrong with the workbook.
UPLOAD_ADVICE = "请上传 Excel 工作簿（xlsx、xls）、ODS 或 CSV 文件。"


@pytest.mark.django_db
@pytest.mark.parametrize("data, filename, said", [
    (b"hello", "调查表.xlsx", "文件名是 .xlsx，但内容不是 Excel 工作簿，而是纯文本。" + UPLOAD_ADVICE),
    (b"hello\r\nworld\r\n", "调查表.XLS", "文件名是 .xls，但内容不是 Excel 工作簿，而是纯文本。" + UPLOAD_ADVICE),
    (b"hello", "调查表.ods", "文件名是 .ods，但内容不是 OpenDocument 电子表格，而是纯文本。" + UPLOAD_ADVICE),
    # (in no known encoding)
    (b"abc\x81 def" * 10, "调查表.xlsx", "文件名是 .xlsx，但内容不是 Excel 工作簿，而是纯文本。" + UPLOAD_ADVICE),
    (xlsx_bytes([["甲", "乙"]], headers=["一", "二"]), "调查表.csv",
     "文件名是 .csv，但内容不是 CSV 文本文件，而是一个 xlsx 格式的 Excel 工作簿。"),
])
def test_a_file_whose_name_and_content_disagree_is_named_for_what_it_is(data, filename, said):
    from django.utils import translation

    from gaizao.estates.census.importer import census_import

    with translation.override("zh-hans"), pytest.raises(CensusFileError) as exc:
        census_import(actor=None, data=data, filename=filename, dry_run=True)
    assert exc.value.message.startswith(said), exc.value.message
    if filename.endswith(".csv"):  # a workbook: what is wrong with it, as before
        assert "摸底表头行" in exc.value.message, exc.value.message
    else:  # plain text: the two sentences alone, no word of header rows or encodings
        assert exc.value.message == said, exc.value.message
        assert "expected" not in exc.value.fields and exc.value.fields["content"] == "csv"


@pytest.mark.django_db
def test_a_file_whose_name_agrees_with_its_content_gets_the_message_it_had():
    from django.utils import translation

    from gaizao.estates.census.importer import census_import

    with translation.override("zh-hans"), pytest.raises(CensusFileError) as exc:
        census_import(actor=None, data=b"hello", filename="调查表.csv", dry_run=True)
    assert exc.value.message.startswith("没有工作表在前几行中包含摸底表头行"), exc.value.message
    assert "文件名" not in exc.value.message


@pytest.mark.django_db
@pytest.mark.parametrize("filename", ["调查表.csv", "调查表.xlsx", "调查表"])
def test_census_csv_content_is_read_by_its_content_whatever_its_name(filename):
    from gaizao.estates.census.importer import census_import

    report = census_import(actor=None, data=csv_bytes([good_row(1), good_row(2)]), filename=filename, dry_run=True)
    assert (report["kind"], report["created"], report["error_count"]) == ("csv", 2, 0), report["errors"]
