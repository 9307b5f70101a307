from typing import Literal

DeliveryChannel = Literal["email", "push", "sms"]

DELIVERY_CHANNEL_VALUES: set[DeliveryChannel] = {
    "email",
    "push",
    "sms",
}


def check_delivery_channel(value: str) -> DeliveryChannel:
    if value in DELIVERY_CHANNEL_VALUES:
        return value
    raise TypeError(f"Unexpected value {value!r}. Expected one of {DELIVERY_CHANNEL_VALUES!r}")
