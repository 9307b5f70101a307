from typing import Literal

BodyCreateUploadSport = Literal["cycling", "hiking", "other", "rowing", "running", "swimming", "walking"]

BODY_CREATE_UPLOAD_SPORT_VALUES: set[BodyCreateUploadSport] = {
    "cycling",
    "hiking",
    "other",
    "rowing",
    "running",
    "swimming",
    "walking",
}


def check_body_create_upload_sport(value: str) -> BodyCreateUploadSport:
    if value in BODY_CREATE_UPLOAD_SPORT_VALUES:
        return value
    raise TypeError(f"Unexpected value {value!r}. Expected one of {BODY_CREATE_UPLOAD_SPORT_VALUES!r}")
