from typing import Literal

DeliveryStatus = Literal["dead_lettered", "sent", "unreachable"]

DELIVERY_STATUS_VALUES: set[DeliveryStatus] = {
    "dead_lettered",
    "sent",
    "unreachable",
}


def check_delivery_status(value: str) -> DeliveryStatus:
    if value in DELIVERY_STATUS_VALUES:
        return value
    raise TypeError(f"Unexpected value {value!r}. Expected one of {DELIVERY_STATUS_VALUES!r}")
