"""Files read as streams (insurecrm/imports/reading.py): the encodings Chinese and English offices save, CSV
dialects, workbooks; a file that cannot be read says what to do."""

from __future__ import annotations

import codecs

import pytest

from insurecrm.imports import reading
from insurecrm.imports.reading import FileProblem, detect_encoding, file_format_of, read_csv, read_xlsx
from tests.imports.conftest import csv_bytes, xlsx_bytes

ROWS = [["姓名", "证件号码", "地址"], ["张伟", "110105199003071239", "北京市朝阳区建国路 88 号"], ["", "", ""],
        ["李娜", "110105198512240024", "上海市, \"浦东\"\n新区"]]


def chunked(data: bytes, size: int = 7):
    """The file in small pieces: a character or a quoted line may straddle two of them."""
    return iter([data[i:i + size] for i in range(0, len(data), size)])


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "gbk", "gb18030", "utf-16"])
def test_every_common_encoding_reads_the_same_rows(encoding):
    table = read_csv(chunked(csv_bytes(ROWS, encoding=encoding)))
    assert table.headers == ROWS[0]
    assert list(table.rows) == [(2, ROWS[1]), (4, ROWS[3])]  # the blank row 3 is left out, its number kept
    assert table.encoding == {"utf-8": "utf-8", "utf-8-sig": "utf-8-sig", "gbk": "gb18030", "gb18030": "gb18030",
                              "utf-16": "utf-16"}[encoding]


def test_detection_of_utf8_gbk_and_what_is_neither():
    assert detect_encoding("姓名".encode()) == "utf-8"
    assert detect_encoding("姓名".encode()[:-1]) == "utf-8"  # a character cut by the sample's end
    assert detect_encoding("姓名".encode("gbk")) == "gb18030"
    assert detect_encoding(codecs.BOM_UTF8 + b"a") == "utf-8-sig"
    with pytest.raises(FileProblem, match="not text in UTF-8, GBK or GB18030"):
        detect_encoding(bytes(range(128, 256)) * 4)


def test_a_file_that_changes_encoding_after_its_sample_names_the_row(monkeypatch):
    monkeypatch.setattr(reading, "SNIFF_BYTES", 64)  # the sample a large file's first megabyte would be
    data = csv_bytes(ROWS[:2] * 3) + "王芳,110105200001010016,广州\r\n".encode("gbk")
    table = read_csv(chunked(data))
    with pytest.raises(FileProblem, match="Line 7 of the file is not valid UTF-8"):
        list(table.rows)


def test_a_file_mixing_encodings_within_its_sample_is_refused_whole():
    with pytest.raises(FileProblem, match="not text in UTF-8, GBK"):
        read_csv(iter([csv_bytes(ROWS[:2]) + "王芳,广州\r\n".encode("gbk")]))


@pytest.mark.parametrize("delimiter", [",", ";", "\t"])
def test_the_delimiter_is_the_header_line(delimiter):
    table = read_csv(iter([csv_bytes(ROWS, delimiter=delimiter)]))
    assert table.headers == ROWS[0] and next(table.rows) == (2, ROWS[1])


def test_an_explicit_encoding_is_used():
    table = read_csv(iter([csv_bytes(ROWS, encoding="gbk")]), encoding="gb18030")
    assert next(table.rows)[1][0] == "张伟"


def test_workbooks_and_broken_ones():
    table = read_xlsx(iter([xlsx_bytes([*ROWS, [None, None, None], ["王芳", 13800138000, None]])]))
    assert table.headers == ROWS[0]
    rows = list(table.rows)
    assert [number for number, _cells in rows] == [2, 4, 6]
    assert rows[2][1][:2] == ["王芳", 13800138000]
    data = xlsx_bytes(ROWS)
    for broken in (data[: len(data) // 2], b"PK\x03\x04 not a zip at all", csv_bytes(ROWS)):
        with pytest.raises(FileProblem, match="not an Excel workbook"):
            read_xlsx(iter([broken]))


def test_the_format_is_the_content_first():
    assert file_format_of("book.csv", xlsx_bytes(ROWS)[:64]) == "xlsx"
    assert file_format_of("book.XLSX", b"") == "xlsx"
    assert file_format_of("book.txt", b"a,b") == "csv"
