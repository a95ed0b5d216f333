"""Reading an uploaded file as a stream of rows: CSV in any encoding a Chinese or English office saves (UTF-8
with or without its byte-order mark, UTF-16 with one, GBK and GB18030), or the first sheet of an XLSX workbook.

The file arrives as an iterator of byte chunks (from the database, :class:`~insurecrm.imports.models.ImportFile\
Chunk`, or from disk for the command line) and is never held whole: CSV text is decoded as it is read, and a
workbook, which is a zip archive that needs random access, is spooled to a temporary file first. What cannot be
read at all raises :class:`FileProblem`, whose message goes to the import's report as a problem of the file.
"""

from __future__ import annotations

import codecs
import csv
import io
import tempfile
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from flask_babel import lazy_gettext as _l

#: how much of a CSV file is looked at to tell its encoding
SNIFF_BYTES = 1 << 20
#: a CSV field may be long (an address, a note), but not without bound
csv.field_size_limit(1 << 20)


class FileProblem(Exception):
    """The file cannot be read (its encoding, its format, its header): the message says what to do."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass
class Table:
    """The header row and, lazily, the rows after it: ``(row number, cells)``, the header being row 1; rows
    with no value at all are left out."""

    headers: list[str]
    rows: Iterator[tuple[int, list]]
    encoding: str | None = None


def detect_encoding(head: bytes) -> str:
    """The encoding of a CSV file from its first bytes: a byte-order mark says it; otherwise UTF-8 when the
    bytes are UTF-8 (plain ASCII included), else GB18030 (which reads GBK and GB2312 too) when they are that."""
    if head.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    for encoding in ("utf-8", "gb18030"):
        decoder = codecs.getincrementaldecoder(encoding)()
        try:
            decoder.decode(head, final=False)  # a character cut at the end of the sample is not an error
        except UnicodeDecodeError:
            continue
        return encoding
    raise FileProblem(str(_l("The file is not text in UTF-8, GBK or GB18030: save it as \"CSV UTF-8\" or as an "
                             "Excel workbook (.xlsx).")))


class _ChunkStream(io.RawIOBase):
    """A readable binary stream over an iterator of byte chunks."""

    def __init__(self, chunks: Iterator[bytes], first: bytes = b"") -> None:
        self._chunks = chunks
        self._pending = first

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        while not self._pending:
            self._pending = next(self._chunks, b"")
            if not self._pending:
                return 0
        size = min(len(buffer), len(self._pending))
        buffer[:size] = self._pending[:size]
        self._pending = self._pending[size:]
        return size


def read_csv(chunks: Iterator[bytes], *, encoding: str | None = None) -> Table:
    """The rows of a CSV file; the delimiter (comma, semicolon or tab) is the header line's."""
    head = b""
    for chunk in chunks:
        head += chunk
        if len(head) >= SNIFF_BYTES:
            break
    encoding = encoding or detect_encoding(head[:SNIFF_BYTES])
    lines = _lines(io.BufferedReader(_ChunkStream(chunks, head)), encoding)
    first_line = next(lines, "")
    delimiter = max(",;\t", key=first_line.count)
    header = next(csv.reader([first_line], delimiter=delimiter), [])
    reader = csv.reader(lines, delimiter=delimiter)

    def rows() -> Iterator[tuple[int, list]]:
        number = 1
        while True:
            try:
                cells = next(reader)
            except StopIteration:
                return
            except csv.Error as error:
                raise FileProblem(str(_l("Row %(row)s cannot be read as CSV: %(error)s", row=number + 1,
                                         error=error))) from None
            number += 1
            if any(cell.strip() for cell in cells):
                yield number, cells

    return Table(headers=[cell.strip() for cell in header], rows=rows(), encoding=encoding)


def _lines(stream: io.BufferedReader, encoding: str) -> Iterator[str]:
    """The file's lines, decoded one by one, so that a line in another encoding is named by its number. UTF-8 and
    GB18030 never use the byte of a line feed inside a character, so the bytes split there; UTF-16 is decoded as
    a whole stream."""
    if encoding == "utf-16":
        text = io.TextIOWrapper(stream, encoding=encoding, newline="")
        try:
            yield from text
        except UnicodeDecodeError:
            raise FileProblem(_bad_encoding(encoding, None)) from None
        return
    for number, line in enumerate(stream, start=1):
        try:
            yield line.decode(encoding)
        except UnicodeDecodeError:
            raise FileProblem(_bad_encoding(encoding, number)) from None


def _bad_encoding(encoding: str, line: int | None) -> str:
    if line is None:
        return str(_l("The file is not valid %(encoding)s text. Save it again as \"CSV UTF-8\" or as an Excel "
                      "workbook (.xlsx).", encoding=encoding.upper()))
    return str(_l("Line %(line)s of the file is not valid %(encoding)s text: the file mixes encodings. Save it "
                  "again as \"CSV UTF-8\" or as an Excel workbook (.xlsx).", line=line, encoding=encoding.upper()))


def read_xlsx(chunks: Iterator[bytes]) -> Table:
    """The rows of the workbook's first sheet (values, not formulas), spooled to a temporary file first."""
    import openpyxl
    from openpyxl.utils.exceptions import InvalidFileException

    spool = tempfile.TemporaryFile()  # noqa: SIM115 - closed when the rows are read (or on failure)
    for chunk in chunks:
        spool.write(chunk)
    spool.seek(0)
    try:
        workbook = openpyxl.load_workbook(spool, read_only=True, data_only=True)
        sheet = workbook.worksheets[0]
        values = sheet.iter_rows(values_only=True)
        header = next(values, ())
    except (zipfile.BadZipFile, InvalidFileException, KeyError, OSError, ValueError, IndexError):
        spool.close()
        raise FileProblem(str(_l("The file is not an Excel workbook that can be read (.xlsx): open it in Excel "
                                 "and save it again, or save it as CSV."))) from None

    def rows() -> Iterator[tuple[int, list]]:
        try:
            for number, cells in enumerate(values, start=2):
                if any(cell is not None and str(cell).strip() for cell in cells):
                    yield number, list(cells)
        finally:
            workbook.close()
            spool.close()

    return Table(headers=["" if cell is None else str(cell).strip() for cell in header], rows=rows())


def read_table(open_chunks: Callable[[], Iterator[bytes]], file_format: str, *,
               encoding: str | None = None) -> Table:
    """The file's rows, by its format (``csv`` or ``xlsx``)."""
    if file_format == "xlsx":
        return read_xlsx(open_chunks())
    return read_csv(open_chunks(), encoding=encoding)


def file_format_of(filename: str, head: bytes) -> str:
    """``xlsx`` for a zip archive (what every .xlsx is) or a name ending .xlsx, else ``csv``."""
    if head.startswith(b"PK\x03\x04") or filename.lower().endswith((".xlsx", ".xlsm")):
        return "xlsx"
    return "csv"
