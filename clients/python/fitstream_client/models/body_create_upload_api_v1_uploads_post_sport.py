from typing import Literal

BodyCreateUploadApiV1UploadsPostSport = Literal[
    "cycling", "hiking", "other", "rowing", "running", "swimming", "walking"
]

BODY_CREATE_UPLOAD_API_V1_UPLOADS_POST_SPORT_VALUES: set[BodyCreateUploadApiV1UploadsPostSport] = {
    "cycling",
    "hiking",
    "other",
    "rowing",
    "running",
    "swimming",
    "walking",
}


def check_body_create_upload_api_v1_uploads_post_sport(value: str) -> BodyCreateUploadApiV1UploadsPostSport:
    if value in BODY_CREATE_UPLOAD_API_V1_UPLOADS_POST_SPORT_VALUES:
        return value
    raise TypeError(
        f"Unexpected value {value!r}. Expected one of {BODY_CREATE_UPLOAD_API_V1_UPLOADS_POST_SPORT_VALUES!r}"
    )
