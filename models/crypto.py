"""NIKs at rest: encrypted for reading back, keyed hash for uniqueness and lookup.

One secret from the settings feeds two keys through HKDF, so a leaked hash column cannot be reversed by
hashing all 10^16 candidate NIKs without the secret, and the encryption key is never the hash key.
"""

from __future__ import annotations

import base64
import hashlib
import hmac

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

MIN_SECRET_LENGTH = 16


class WeakSecret(ValueError):
    """The configured secret is missing or too short to protect NIKs."""


def _derive(secret: bytes, purpose: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=purpose).derive(secret)


class NikVault:
    """Encrypts, decrypts and hashes NIKs with keys derived from one secret (and, while rotating, the
    previous secret: tokens under either decrypt, lookups try the hashes of both)."""

    __slots__ = ("_current", "_fernet", "_hash_key", "_hash_keys", "key_id", "old_key_id")

    def __init__(self, secret: str, old_secret: str | None = None) -> None:
        for value in (secret, old_secret):
            if value is not None and len(value) < MIN_SECRET_LENGTH:
                raise WeakSecret(f"the secret must be at least {MIN_SECRET_LENGTH} characters")
        if old_secret == secret:
            raise ValueError("the old secret is the new secret")
        raw = secret.encode()
        self._current = _fernet(raw)
        self._hash_key = _derive(raw, b"lanjutkan nik hash v1")
        self.key_id = _key_id(raw)
        self._hash_keys: tuple[bytes, ...] = (self._hash_key,)
        self._fernet: Fernet | MultiFernet = self._current
        self.old_key_id: str | None = None
        if old_secret is not None:
            old = old_secret.encode()
            # MultiFernet encrypts with the first key and decrypts with any: new tokens are the new key's.
            self._fernet = MultiFernet([self._current, _fernet(old)])
            self._hash_keys = (self._hash_key, _derive(old, b"lanjutkan nik hash v1"))
            self.old_key_id = _key_id(old)

    @property
    def rotating(self) -> bool:
        """Whether a previous secret is configured (LANJUTKAN_SECRET_OLD): lookups then try two hashes."""
        return len(self._hash_keys) > 1

    @property
    def key_ids(self) -> tuple[str, ...]:
        """The key ids of the configured secrets: the new one's, then the old one's while rotating."""
        return (self.key_id,) if self.old_key_id is None else (self.key_id, self.old_key_id)

    def encrypt(self, nik: str) -> str:
        return self._current.encrypt(nik.encode()).decode()

    def decrypt(self, token: str) -> str:
        try:
            return self._fernet.decrypt(token.encode()).decode()
        except InvalidToken as exc:  # wrong secret: say so without echoing anything
            raise ValueError("NIK cannot be decrypted with the configured secret") from exc

    def is_current(self, token: str) -> bool:
        """Whether ``token`` is encrypted with the new secret's key (a rotation leaves it as is)."""
        try:
            self._current.decrypt(token.encode())
        except InvalidToken:
            return False
        return True

    def hash(self, nik: str) -> str:
        """The keyed hash under the new secret: what is written."""
        return hmac.new(self._hash_key, nik.encode(), hashlib.sha256).hexdigest()

    def hashes(self, nik: str) -> list[str]:
        """The hashes a lookup tries: the new secret's, then the old one's while rotating."""
        return [hmac.new(key, nik.encode(), hashlib.sha256).hexdigest() for key in self._hash_keys]


def _fernet(raw: bytes) -> Fernet:
    return Fernet(base64.urlsafe_b64encode(_derive(raw, b"lanjutkan nik encryption v1")))


def _key_id(raw: bytes) -> str:
    """A short name of the secret (its own HKDF purpose, so it tells nothing about the two keys) that rows
    hashed with it are marked with."""
    return _derive(raw, b"lanjutkan key id v1")[:8].hex()
