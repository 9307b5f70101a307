from typing import Literal

PreferencesChannelsItem = Literal["email", "push", "sms"]

PREFERENCES_CHANNELS_ITEM_VALUES: set[PreferencesChannelsItem] = {
    "email",
    "push",
    "sms",
}


def check_preferences_channels_item(value: str) -> PreferencesChannelsItem:
    if value in PREFERENCES_CHANNELS_ITEM_VALUES:
        return value
    raise TypeError(f"Unexpected value {value!r}. Expected one of {PREFERENCES_CHANNELS_ITEM_VALUES!r}")
