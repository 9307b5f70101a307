"""From an upload's bytes to a :class:`Track`: gzip under a cap, the format by content,
then the parser of that format (fit.py, gpx.py, tcx.py)."""

from __future__ import annotations

import re
import zlib
from xml.parsers import expat

from fitstream.activity_files import fit, gpx, tcx
from fitstream.activity_files.track import ActivityFileError, FileKind, Track

GZIP_MAGIC = b"\x1f\x8b"
# A file is one gzip member, or a few concatenated (`cat a.gz b.gz`); thousands of tiny
# members are only a way to make inflating slow, so more than this is refused.
MAX_GZIP_MEMBERS = 16
# A DTD can declare entities that expand without bound (billion laughs) or fetch files
# (external entities). No GPX or TCX writer needs one, so any file with one is refused
# before a parser sees it: by expat (below, whatever the encoding) and, as a second
# guard, by this pattern over the bytes (sound because only UTF-8 XML is accepted).
_DTD = re.compile(rb"<!(DOCTYPE|ENTITY)", re.IGNORECASE)
# BOMs of UTF-16/32: XML in those encodings is refused (no writer of GPX or TCX uses
# them, and a byte check cannot see through them).
_ZEROS = re.compile(rb"\x00*")
_WIDE_BOMS = (b"\xff\xfe", b"\xfe\xff", b"\x00\x00\xfe\xff")
_UTF8_NAMES = {"utf-8", "utf8", "us-ascii", "ascii"}
_ROOTS = {"gpx": "gpx", "TrainingCenterDatabase": "tcx"}
_READERS = {"fit": fit.read, "gpx": gpx.read, "tcx": tcx.read}
# The elements one point of each XML format opens (GPX: trkpt, rtept, wpt; TCX:
# Trackpoint), with any namespace prefix; counted in the bytes before the parser builds
# a tree, so a file of a million empty points is refused without being parsed.
_POINT_TAGS = {"gpx": re.compile(rb"<(?:[A-Za-z_][\w.-]*:)?(?:trkpt|rtept|wpt)[\s/>]"),
               "tcx": re.compile(rb"<(?:[A-Za-z_][\w.-]*:)?Trackpoint[\s/>]")}
# Elements opened per point at most: a Garmin TCX trackpoint opens 14 (time, position,
# altitude, distance, heart rate, the TPX extension...). Bounds the parser's tree for
# files whose elements are not points.
ELEMENTS_PER_POINT = 24
_SPARE_ELEMENTS = 10_000


def unpack(data: bytes, max_decompressed_bytes: int) -> bytes:
    """``data`` inflated if it is gzip (every member, at most ``MAX_GZIP_MEMBERS``),
    else as it is.

    Inflates at most ``max_decompressed_bytes + 1`` bytes: a gzip bomb is refused
    (``FileKind.TOO_LARGE``) at the cap, never inflated whole. Each member is inflated
    from an offset into ``data`` (no copy of the rest per member)."""
    if not data.startswith(GZIP_MAGIC):
        return data
    out = bytearray()
    view = memoryview(data)
    offset, members = 0, 0
    try:
        while offset < len(data):
            members += 1
            if members > MAX_GZIP_MEMBERS:
                raise ActivityFileError(FileKind.CORRUPT, "the gzip stream has more than "
                                        f"{MAX_GZIP_MEMBERS} members")
            inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
            out += inflater.decompress(view[offset:], max_decompressed_bytes + 1 - len(out))
            if len(out) > max_decompressed_bytes or inflater.unconsumed_tail:
                # Output stopped at the cap with input left: it inflates past the cap.
                raise ActivityFileError(FileKind.TOO_LARGE, "the file inflates to more "
                                        f"than {max_decompressed_bytes} bytes")
            if not inflater.eof:
                raise ActivityFileError(FileKind.CORRUPT, "the gzip stream is truncated")
            offset = len(data) - len(inflater.unused_data)
            # Another gzip member may follow (concatenated gzip); trailing zeros may not.
            offset = _ZEROS.match(data, offset).end()
    except zlib.error as exc:
        raise ActivityFileError(FileKind.CORRUPT, f"the gzip stream is corrupt: {exc}") from exc
    return bytes(out)


def detect_format(data: bytes) -> str:
    """"fit", "gpx" or "tcx", by content: a FIT file header (its size byte and the
    ``.FIT`` signature), or a UTF-8 XML document without a DTD whose root is ``gpx``
    or ``TrainingCenterDatabase`` (any namespace); ``FileKind.UNSUPPORTED`` otherwise,
    ``FileKind.CORRUPT`` for XML in another encoding or with a DTD."""
    if len(data) >= 12 and data[0] in (12, 14) and data[8:12] == b".FIT":
        return "fit"
    if data.startswith(_WIDE_BOMS):
        raise ActivityFileError(FileKind.CORRUPT, "XML in UTF-16 or UTF-32 is refused; "
                                                  "GPX and TCX files are UTF-8")
    head = data[:4096].lstrip(b"\xef\xbb\xbf \t\r\n")
    if head.lstrip(b"\x00").startswith(b"<"):  # big-endian UTF-16/32 starts with NULs
        if b"\x00" in data:  # UTF-16/32 without a BOM, or not text at all
            raise ActivityFileError(FileKind.CORRUPT, "XML with NUL bytes (UTF-16 or "
                                                      "UTF-32?) is refused")
        root = _xml_root(data)
        if _DTD.search(data):
            raise ActivityFileError(FileKind.CORRUPT, "XML with a DTD (DOCTYPE or ENTITY) "
                                                      "is refused")
        local = root.rsplit("}", 1)[-1]
        if local in _ROOTS:
            return _ROOTS[local]
        raise ActivityFileError(FileKind.UNSUPPORTED, f"an XML document whose root is "
                                f"{local[:40]!r}, not gpx or TrainingCenterDatabase")
    raise ActivityFileError(FileKind.UNSUPPORTED, "not a FIT, GPX or TCX file (gzipped or not)")


class _Root(Exception):
    def __init__(self, tag: str) -> None:
        self.tag = tag


def _xml_root(data: bytes) -> str:
    """The root element's tag (``namespace}local``), read by expat up to that element
    only; a DTD, a declared encoding other than UTF-8, or malformed XML before the root
    is refused (``FileKind.CORRUPT``)."""
    parser = expat.ParserCreate(namespace_separator="}")

    def refuse_dtd(*_: object) -> None:
        raise ActivityFileError(FileKind.CORRUPT, "XML with a DTD (DOCTYPE or ENTITY) "
                                                  "is refused")

    def declaration(_version: str | None, encoding: str | None, _standalone: int) -> None:
        if encoding is not None and encoding.lower() not in _UTF8_NAMES:
            raise ActivityFileError(FileKind.CORRUPT, f"XML in encoding {encoding[:40]!r} "
                                                      "is refused; GPX and TCX are UTF-8")

    def root(tag: str, _attributes: object) -> None:
        raise _Root(tag)

    parser.XmlDeclHandler = declaration
    parser.StartDoctypeDeclHandler = refuse_dtd
    parser.EntityDeclHandler = refuse_dtd
    parser.StartElementHandler = root
    try:
        for start in range(0, len(data), 65_536):  # the root comes early: stop there
            parser.Parse(data[start:start + 65_536], False)
        parser.Parse(b"", True)
    except _Root as found:
        return found.tag
    except expat.ExpatError as exc:
        raise ActivityFileError(FileKind.CORRUPT, f"the XML is malformed: {exc}") from exc
    raise ActivityFileError(FileKind.CORRUPT, "the XML has no root element")


def count_elements(data: bytes, file_format: str, max_points: int) -> None:
    """Refuse (``FileKind.TOO_LARGE``) an XML file with more than ``max_points`` point
    elements, or more elements than that many points could open, counted in the bytes
    before a parser builds the tree (its memory and time grow with the elements)."""
    pattern = _POINT_TAGS.get(file_format)
    if pattern is None:
        return
    for count, _ in enumerate(pattern.finditer(data), 1):
        if count > max_points:
            raise ActivityFileError(FileKind.TOO_LARGE, f"more than {max_points} track points")
    # Start tags, empty tags, comments and processing instructions: every "<" but "</".
    opened = data.count(b"<") - data.count(b"</")
    if opened > max_points * ELEMENTS_PER_POINT + _SPARE_ELEMENTS:
        raise ActivityFileError(FileKind.TOO_LARGE, f"{opened} XML elements; at most "
                                f"{ELEMENTS_PER_POINT} per track point of {max_points}")


def read_upload(data: bytes, max_decompressed_bytes: int, max_points: int,
                ) -> tuple[bytes, Track]:
    """The content of an upload's bytes (inflated if gzipped) and its track;
    :class:`ActivityFileError` if they are too large, of no known format, or corrupt.
    The content is returned so a caller hashes it without inflating it again."""
    content = unpack(data, max_decompressed_bytes)
    file_format = detect_format(content)
    count_elements(content, file_format, max_points)
    return content, _READERS[file_format](content, max_points)


def read_track(data: bytes, max_decompressed_bytes: int, max_points: int) -> Track:
    """The track in an upload's bytes (gzipped or not): :func:`read_upload`'s track."""
    return read_upload(data, max_decompressed_bytes, max_points)[1]
