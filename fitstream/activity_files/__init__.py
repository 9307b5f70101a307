"""Activity files (FIT, GPX, TCX, optionally gzipped) read into one :class:`Track`, and a
track translated into the six workout events a device sends.

Lifecycle of an upload's bytes, each step pure (no I/O beyond the bytes given):

1. :func:`unpack` inflates gzip under a cap on the *decompressed* size (a gzip bomb
   stops at the cap, it is never inflated whole; at most 16 members);
2. :func:`detect_format` decides the format by content (the FIT header, the XML root),
   never by a file name or a client's claim; XML must be UTF-8 without a DTD;
3. :func:`read_upload` (or :func:`read_track`) counts the points before parsing (the
   XML point elements in the bytes; every FIT message while decoding), then parses with
   the maintained parser of that format (``fitdecode``, ``gpxpy``, ``tcxreader``) into a
   :class:`Track`, and returns the inflated content with it (hashed for the ids);
4. :func:`check_track` refuses what no device could have recorded (coordinates out of
   range, a clock in the future or before 2000, absurd durations or speeds, no points);
5. :func:`workout_events` turns the track into WorkoutStarted, WorkoutUpdated (samples
   batched as a device syncs them), WorkoutPaused/Resumed (gaps), WorkoutCompleted,
   with ids derived from the workout id, so the same upload gives the same events.

Every refusal is an :class:`ActivityFileError` whose ``kind`` says why (the API maps
it to a status). No string of the file reaches an event: the sport is mapped onto
``events.SPORT_TYPES`` and the device model is the format's name.
"""

from fitstream.activity_files.formats import detect_format, read_track, read_upload, unpack
from fitstream.activity_files.track import (
    ActivityFileError,
    FileKind,
    Track,
    TrackPoint,
    check_track,
)
from fitstream.activity_files.translation import (
    UploadIds,
    content_sha256,
    open_upload_id,
    upload_ids,
    workout_events,
)

__all__ = [
    "ActivityFileError",
    "FileKind",
    "Track",
    "TrackPoint",
    "UploadIds",
    "check_track",
    "content_sha256",
    "detect_format",
    "open_upload_id",
    "read_track",
    "read_upload",
    "unpack",
    "upload_ids",
    "workout_events",
]
