"""The local file key store (the embedded default): one file per user, ``<dir>/<user_id>``,
holding the 32 key bytes.

Ids are checked against the one id pattern, so a user id is a safe file name (no
``/``, no ``..``). A key is created with ``O_CREAT | O_EXCL`` on a temporary name and
linked into place, so concurrent creators in any process agree on one key and no
reader ever sees a half-written file. Deleting unlinks the file; the directory is
``0700`` and each key ``0600``.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from fitstream.domain.identifiers import check_id
from fitstream.privacy.keys import DATA_KEY_BYTES
from fitstream.settings import LocalFileKeyStoreConfig


class LocalFileKeyStore:
    def __init__(self, config: LocalFileKeyStoreConfig, state_dir: Path) -> None:
        self.root = config.path if config.path.is_absolute() else state_dir / config.path
        self.root.mkdir(parents=True, exist_ok=True, mode=0o700)

    def _path(self, user_id: str) -> Path:
        return self.root / check_id("user_id", user_id)

    def get(self, user_id: str) -> bytes | None:
        try:
            key = self._path(user_id).read_bytes()
        except FileNotFoundError:
            return None
        if len(key) != DATA_KEY_BYTES:
            raise ValueError(f"the key file of {user_id} is damaged ({len(key)} bytes)")
        return key

    def get_or_create(self, user_id: str) -> bytes:
        path = self._path(user_id)
        existing = self.get(user_id)
        if existing is not None:
            return existing
        draft = path.with_name(f".{path.name}.{secrets.token_hex(8)}")
        fd = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            os.write(fd, secrets.token_bytes(DATA_KEY_BYTES))
            os.fsync(fd)
        finally:
            os.close(fd)
        try:
            os.link(draft, path)  # fails if another process created the key first
        except FileExistsError:
            pass
        finally:
            draft.unlink()
        key = self.get(user_id)
        if key is None:  # deleted between the link and the read: an erase won the race
            raise KeyError(f"the key of {user_id} was deleted while it was created")
        return key

    def delete(self, user_id: str) -> bool:
        try:
            self._path(user_id).unlink()
        except FileNotFoundError:
            return False
        return True
