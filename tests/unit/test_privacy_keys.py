"""Per-user data keys (fitstream/privacy/keys/) on both real backends, a directory and
PostgreSQL (127.0.0.1:5432, database ``test``, a table of each test's own), and the
field encryption (fitstream/privacy/fields.py) they serve."""

from __future__ import annotations

import secrets
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from fitstream.domain.identifiers import InvalidIdentifier
from fitstream.privacy.fields import (
    ERASED,
    PREFIX,
    FieldCipher,
    FieldTampered,
    open_sealed,
    seal,
)
from fitstream.privacy.keys import CachedKeyStore, key_store
from fitstream.privacy.keys.local_file import LocalFileKeyStore
from fitstream.privacy.keys.postgres import PostgresKeyStore
from fitstream.settings import (
    FitStreamSettings,
    LocalFileKeyStoreConfig,
    PostgresKeyStoreConfig,
    PrivacySettings,
)


def postgres_config(table: str) -> PostgresKeyStoreConfig:
    return PostgresKeyStoreConfig(host="127.0.0.1", port=5432, database="test",
                                  user="postgres", table=table)


@pytest.fixture(params=["file", "postgres"])
def store(request, tmp_path):
    if request.param == "file":
        yield LocalFileKeyStore(LocalFileKeyStoreConfig(path=Path("keys")), tmp_path)
        return
    table = f"keys_{uuid.uuid4().hex[:12]}"
    backend = PostgresKeyStore(postgres_config(table))
    try:
        backend.get("probe")
    except Exception as exc:  # which error depends on what is missing
        pytest.skip(f"PostgreSQL at 127.0.0.1:5432 (database test) is not reachable: {exc}")
    yield backend
    backend._connection().execute(f"DROP TABLE IF EXISTS {table}")
    backend.close()


def test_a_key_is_created_once_and_deleting_it_erases_it(store):
    assert store.get("user-a") is None
    key = store.get_or_create("user-a")
    assert len(key) == 32
    assert store.get_or_create("user-a") == key == store.get("user-a")
    assert store.get_or_create("user-b") != key
    assert store.delete("user-a") is True
    assert store.get("user-a") is None
    assert store.delete("user-a") is False
    assert store.get("user-b") is not None
    assert store.get_or_create("user-a") != key  # a user who comes back gets a new key


def test_concurrent_creators_agree_on_one_key(store):
    with ThreadPoolExecutor(8) as pool:
        keys = set(pool.map(lambda _: store.get_or_create("user-race"), range(32)))
    assert len(keys) == 1


@pytest.mark.parametrize("user_id", ["' OR 1=1 --", "O'Brien", "../../etc/passwd", ""])
def test_ids_that_are_not_ids_are_refused(store, user_id):
    for call in (store.get, store.get_or_create, store.delete):
        with pytest.raises(InvalidIdentifier):
            call(user_id)


def test_the_file_store_keeps_keys_private(tmp_path):
    store = LocalFileKeyStore(LocalFileKeyStoreConfig(path=tmp_path / "k"), tmp_path)
    store.get_or_create("user-a")
    assert (tmp_path / "k").stat().st_mode & 0o777 == 0o700
    assert (tmp_path / "k" / "user-a").stat().st_mode & 0o777 == 0o600
    assert [p.name for p in (tmp_path / "k").iterdir()] == ["user-a"]  # no drafts left


def test_settings_choose_the_backend(tmp_path):
    embedded = key_store(FitStreamSettings(state_dir=tmp_path))
    assert isinstance(embedded.backend, LocalFileKeyStore)
    assert embedded.backend.root == tmp_path / "keys"
    production = key_store(FitStreamSettings(state_dir=tmp_path, privacy=PrivacySettings(
        key_store="postgres", postgres=postgres_config("user_data_keys"))))
    assert isinstance(production.backend, PostgresKeyStore)


def test_the_cache_forgets_a_key_deleted_through_it(tmp_path):
    backend = LocalFileKeyStore(LocalFileKeyStoreConfig(), tmp_path)
    cached = CachedKeyStore(backend, ttl_s=3600)
    key = cached.get_or_create("user-a")
    backend.delete("user-a")  # another process erased the user
    assert cached.get("user-a") == key  # still cached, for at most ttl_s
    cached.forget("user-a")  # what applying the erasure event does
    assert cached.get("user-a") is None
    cached.get_or_create("user-b")
    assert cached.delete("user-b") is True
    assert cached.get("user-b") is None


def test_the_cache_never_remembers_that_a_user_has_no_key(tmp_path):
    """Before: "no key" was cached for the TTL (60 s), so a reader that looked up a user
    before their first key was created (or before they came back after an erase) read
    their new sealed fields as erased for a minute."""
    backend = LocalFileKeyStore(LocalFileKeyStoreConfig(), tmp_path)
    cached = CachedKeyStore(backend, ttl_s=3600)
    assert cached.get("user-a") is None
    key = backend.get_or_create("user-a")  # the API, in another process, sealed first
    assert cached.get("user-a") == key
    assert cached.get_or_create("user-a") == key


JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**53), 2**53)
    | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4)
    | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=12)


@hypothesis_settings(max_examples=200)
@given(value=JSON, key=st.binary(min_size=32, max_size=32))
def test_a_sealed_value_opens_to_itself_and_hides_it(value, key):
    sealed = seal(key, "user-a", "location", value)
    assert sealed.startswith(PREFIX)
    assert open_sealed(key, "user-a", "location", sealed) == value
    if isinstance(value, str) and len(value) >= 4:
        assert value not in sealed


def test_a_sealed_value_does_not_open_elsewhere():
    key, other = secrets.token_bytes(32), secrets.token_bytes(32)
    sealed = seal(key, "user-a", "email", "runner@example.org")
    assert seal(key, "user-a", "email", "runner@example.org") != sealed  # fresh nonces
    for attempt in (lambda: open_sealed(other, "user-a", "email", sealed),
                    lambda: open_sealed(key, "user-b", "email", sealed),
                    lambda: open_sealed(key, "user-a", "phone", sealed),
                    lambda: open_sealed(key, "user-a", "email", sealed[:-4]),
                    lambda: open_sealed(key, "user-a", "email", sealed[:-6] + "AAAAAA"),
                    lambda: open_sealed(key, "user-a", "email", "runner@example.org")):
        with pytest.raises(FieldTampered):
            attempt()


def test_after_the_key_is_deleted_every_copy_reads_as_erased(tmp_path):
    cipher = FieldCipher(LocalFileKeyStore(LocalFileKeyStoreConfig(), tmp_path))
    preferences = {"user_id": "user-a", "channels": ["email"],
                   "email": "runner@example.org", "phone": "+4915112345678"}
    sealed = cipher.seal_fields("user-a", preferences, ("email", "phone"))
    assert sealed["channels"] == ["email"] and sealed["user_id"] == "user-a"
    assert "runner@example.org" not in str(sealed) and "+4915112345678" not in str(sealed)
    assert cipher.open_fields("user-a", sealed, ("email", "phone")) == preferences
    assert cipher.keys.delete("user-a") is True
    assert cipher.open("user-a", "email", sealed["email"]) is ERASED
    assert cipher.open_fields("user-a", sealed, ("email", "phone")) == {
        **preferences, "email": None, "phone": None}
