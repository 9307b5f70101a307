"""The API's cache of verified tokens (api/auth.py VerifiedTokens): a token is verified
once and trusted until its exp, never after; only valid tokens enter; size is bounded."""

from __future__ import annotations

import time

import pytest

from api.auth import VerifiedTokens
from fitstream.tokens import InvalidToken, issue_user_token, verify_user_token

SECRET = "a-test-secret-of-enough-length-for-hs256"


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def counting(calls: list[str]):
    def verify(token: str) -> str:
        calls.append(token)
        return verify_user_token(SECRET, token)
    return verify


def test_a_token_is_verified_once_and_again_from_its_exp():
    issued = int(time.time())
    token = issue_user_token(SECRET, "user-1", 60, now=issued)
    clock, calls = Clock(issued), []
    tokens = VerifiedTokens(clock=clock)
    assert [tokens.get("user", token, counting(calls)) for _ in range(3)] == ["user-1"] * 3
    assert len(calls) == 1
    clock.now = issued + 59.9
    tokens.get("user", token, counting(calls))
    assert len(calls) == 1
    clock.now = issued + 60  # PyJWT's rule: valid while now < exp
    with pytest.raises(InvalidToken):  # what the verifier says at exp is the answer
        tokens.get("user", token, lambda t: (_ for _ in ()).throw(InvalidToken("expired")))


def test_invalid_tokens_are_not_kept_and_kinds_are_apart():
    calls: list[str] = []
    tokens = VerifiedTokens()
    for _ in range(2):
        with pytest.raises(InvalidToken):
            tokens.get("user", "not.a.token", counting(calls))
    assert len(calls) == 2
    token = issue_user_token(SECRET, "user-1", 60)
    assert tokens.get("user", token, counting(calls)) == "user-1"
    with pytest.raises(InvalidToken):
        tokens.get("analyst", token, lambda t: (_ for _ in ()).throw(InvalidToken("audience")))


def test_the_size_is_bounded():
    tokens = VerifiedTokens(max_entries=3)
    for user in range(10):
        token = issue_user_token(SECRET, f"user-{user}", 60)
        assert tokens.get("user", token, lambda t: verify_user_token(SECRET, t)) == f"user-{user}"
        assert len(tokens._entries) <= 3
