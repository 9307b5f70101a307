from typing import Literal

UserPreferencesChannelsItem = Literal["email", "push", "sms"]

USER_PREFERENCES_CHANNELS_ITEM_VALUES: set[UserPreferencesChannelsItem] = {
    "email",
    "push",
    "sms",
}


def check_user_preferences_channels_item(value: str) -> UserPreferencesChannelsItem:
    if value in USER_PREFERENCES_CHANNELS_ITEM_VALUES:
        return value
    raise TypeError(f"Unexpected value {value!r}. Expected one of {USER_PREFERENCES_CHANNELS_ITEM_VALUES!r}")
