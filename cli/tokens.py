"""``fitstream devices``, ``fitstream users`` and ``fitstream analysts``: credentials."""

from __future__ import annotations

from typing import Annotated

import typer

from cli.common import console
from fitstream.settings import get_settings

devices_app = typer.Typer(help="Device credentials for ingest.", no_args_is_help=True)
users_app = typer.Typer(help="User credentials for the API.", no_args_is_help=True)
analysts_app = typer.Typer(help="Analyst credentials for read-only SQL.", no_args_is_help=True)


def _signing_keys():
    """The key ring of the settings; warns on stderr when it holds the public default
    secret (an API outside the demo and the tests refuses to start with it)."""
    from fitstream.tokens import TokenKeys

    keys = TokenKeys.from_settings(get_settings().api)
    if keys.uses_default_secret():
        console.print("[yellow]warning: signed with the public default secret; set "
                      "FITSTREAM_API__TOKEN_SECRET for anything but the local demo[/yellow]")
    return keys


def _checked_id(field: str, value: str) -> str:
    from fitstream.domain.identifiers import InvalidIdentifier, check_id

    try:
        return check_id(field, value)
    except InvalidIdentifier as exc:
        raise typer.BadParameter(str(exc), param_hint=f"--{field}") from exc


@devices_app.command("token")
def devices_token(
    user: Annotated[str, typer.Option(help="The user the device records for.")],
    device: Annotated[str, typer.Option(help="The device id.")],
) -> None:
    """Issue a bearer token that lets DEVICE send events for USER (valid
    api.device_token_ttl_s; revoke it with `fitstream devices revoke`)."""
    from fitstream.tokens import issue_device_token

    token = issue_device_token(_signing_keys(), _checked_id("user", user),
                               _checked_id("device", device),
                               get_settings().api.device_token_ttl_s)
    typer.echo(token)


@devices_app.command("revoke")
def devices_revoke(
    jti: Annotated[str | None, typer.Option(help="Revoke the one token with this jti.")]
    = None,
    device: Annotated[str | None, typer.Option(
        help="Revoke every token of this device (of --user) issued until now.")] = None,
    user: Annotated[str | None, typer.Option(
        help="The user whose device --device is (device ids are not unique).")] = None,
    reason: Annotated[str, typer.Option(help="Kept with the revocation.")] = "",
    lift: Annotated[bool, typer.Option("--lift", help="Undo an earlier revocation.")]
    = False,
) -> None:
    """Revoke device tokens on the revocation topic; every API serving ingest refuses
    them (401) within a poll interval. A token issued after a --device revocation works."""
    from api.revocations import device_key, jti_key, publish_revocation

    if (jti is None) == (device is None):
        raise typer.BadParameter("give exactly one of --jti and --device")
    if (device is None) != (user is None):
        raise typer.BadParameter("--device needs --user, and --user goes with --device")
    key = (jti_key(jti) if jti is not None
           else device_key(_checked_id("user", user), _checked_id("device", device)))
    try:
        value = publish_revocation(get_settings(), key, revoked=not lift, reason=reason)
    except Exception as exc:
        console.print(f"[red]revocation not recorded: {exc}[/red]")
        raise typer.Exit(1) from exc
    console.print(f"{'lifted' if lift else 'revoked'} {key.decode()} at {value['revoked_at']}")


@users_app.command("token")
def users_token(
    user: Annotated[str, typer.Option(help="The user the token signs in.")],
) -> None:
    """Issue a bearer token with which USER reads their own private views (valid
    api.user_token_ttl_s: hours, since user tokens cannot be revoked)."""
    from fitstream.tokens import issue_user_token

    typer.echo(issue_user_token(_signing_keys(), _checked_id("user", user),
                                get_settings().api.user_token_ttl_s))


@analysts_app.command("token")
def analysts_token(
    name: Annotated[str, typer.Option(help="Who the token is for (kept in the token).")],
) -> None:
    """Issue a bearer token for POST /api/v1/analytics/sql (what `fitstream sql` uses),
    valid api.analyst_token_ttl_s."""
    from fitstream.tokens import issue_analyst_token

    typer.echo(issue_analyst_token(_signing_keys(), name,
                                   get_settings().api.analyst_token_ttl_s))
