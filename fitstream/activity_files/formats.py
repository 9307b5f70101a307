"""From an upload's bytes to a :class:`Track`: gzip under a cap, the format by content,
then the parser of that format (fit.py, gpx.py, tcx.py)."""

from __future__ import annotations

import io
import re
import zlib
from xml.etree.ElementTree import ParseError, iterparse

from fitstream.activity_files import fit, gpx, tcx
from fitstream.activity_files.track import ActivityFileError, FileKind, Track

GZIP_MAGIC = b"\x1f\x8b"
# A DTD can declare entities that expand without bound (billion laughs) or fetch files
# (external entities). No GPX or TCX writer needs one, so any file with one is refused
# before a parser sees it.
_DTD = re.compile(rb"<!(DOCTYPE|ENTITY)", re.IGNORECASE)
_ROOTS = {"gpx": "gpx", "TrainingCenterDatabase": "tcx"}
_READERS = {"fit": fit.read, "gpx": gpx.read, "tcx": tcx.read}


def unpack(data: bytes, max_decompressed_bytes: int) -> bytes:
    """``data`` inflated if it is gzip (every member), else as it is.

    Inflates at most ``max_decompressed_bytes + 1`` bytes: a gzip bomb is refused
    (``FileKind.TOO_LARGE``) at the cap, never inflated whole."""
    if not data.startswith(GZIP_MAGIC):
        return data
    out = bytearray()
    pending = data
    try:
        while pending:
            inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
            chunk = pending
            while chunk and not inflater.eof:
                out += inflater.decompress(chunk, max_decompressed_bytes + 1 - len(out))
                if len(out) > max_decompressed_bytes:
                    raise ActivityFileError(FileKind.TOO_LARGE, "the file inflates to more "
                                            f"than {max_decompressed_bytes} bytes")
                chunk = inflater.unconsumed_tail
            if not inflater.eof:
                raise ActivityFileError(FileKind.CORRUPT, "the gzip stream is truncated")
            # Another gzip member may follow (concatenated gzip); trailing zeros may not.
            pending = inflater.unused_data.lstrip(b"\x00")
    except zlib.error as exc:
        raise ActivityFileError(FileKind.CORRUPT, f"the gzip stream is corrupt: {exc}") from exc
    return bytes(out)


def detect_format(data: bytes) -> str:
    """"fit", "gpx" or "tcx", by content: a FIT file header (its size byte and the
    ``.FIT`` signature), or an XML document whose root is ``gpx`` or
    ``TrainingCenterDatabase`` (any namespace); ``FileKind.UNSUPPORTED`` otherwise."""
    if len(data) >= 12 and data[0] in (12, 14) and data[8:12] == b".FIT":
        return "fit"
    head = data[:4096].lstrip(b"\xef\xbb\xbf \t\r\n")
    if head.startswith(b"<"):
        if _DTD.search(data):
            raise ActivityFileError(FileKind.CORRUPT, "XML with a DTD (DOCTYPE or ENTITY) "
                                                      "is refused")
        root = _xml_root(data)
        local = root.rsplit("}", 1)[-1]
        if local in _ROOTS:
            return _ROOTS[local]
        raise ActivityFileError(FileKind.UNSUPPORTED, f"an XML document whose root is "
                                f"{local[:40]!r}, not gpx or TrainingCenterDatabase")
    raise ActivityFileError(FileKind.UNSUPPORTED, "not a FIT, GPX or TCX file (gzipped or not)")


def _xml_root(data: bytes) -> str:
    try:
        for _, element in iterparse(io.BytesIO(data), events=("start",)):
            return element.tag
    except ParseError as exc:
        raise ActivityFileError(FileKind.CORRUPT, f"the XML is malformed: {exc}") from exc
    raise ActivityFileError(FileKind.CORRUPT, "the XML has no root element")


def read_track(data: bytes, max_decompressed_bytes: int, max_points: int) -> Track:
    """The track in an upload's bytes (gzipped or not); :class:`ActivityFileError` if
    they are too large, of no known format, or corrupt."""
    content = unpack(data, max_decompressed_bytes)
    return _READERS[detect_format(content)](content, max_points)
