from typing import Literal

UploadStatusStatus = Literal["error", "processing", "ready"]

UPLOAD_STATUS_STATUS_VALUES: set[UploadStatusStatus] = {
    "error",
    "processing",
    "ready",
}


def check_upload_status_status(value: str) -> UploadStatusStatus:
    if value in UPLOAD_STATUS_STATUS_VALUES:
        return value
    raise TypeError(f"Unexpected value {value!r}. Expected one of {UPLOAD_STATUS_STATUS_VALUES!r}")
