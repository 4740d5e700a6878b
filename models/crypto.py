"""NIKs at rest: encrypted for reading back, keyed hash for uniqueness and lookup.

One secret from the settings feeds two keys through HKDF, so a leaked hash column cannot be reversed by
hashing all 10^16 candidate NIKs without the secret, and the encryption key is never the hash key.
"""

from __future__ import annotations

import base64
import hashlib
import hmac

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

MIN_SECRET_LENGTH = 16


class WeakSecret(ValueError):
    """The configured secret is missing or too short to protect NIKs."""


def _derive(secret: bytes, purpose: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=purpose).derive(secret)


class NikVault:
    """Encrypts, decrypts and hashes NIKs with keys derived from one secret."""

    __slots__ = ("_fernet", "_hash_key")

    def __init__(self, secret: str) -> None:
        if len(secret) < MIN_SECRET_LENGTH:
            raise WeakSecret(f"the secret must be at least {MIN_SECRET_LENGTH} characters")
        raw = secret.encode()
        self._fernet = Fernet(base64.urlsafe_b64encode(_derive(raw, b"lanjutkan nik encryption v1")))
        self._hash_key = _derive(raw, b"lanjutkan nik hash v1")

    def encrypt(self, nik: str) -> str:
        return self._fernet.encrypt(nik.encode()).decode()

    def decrypt(self, token: str) -> str:
        try:
            return self._fernet.decrypt(token.encode()).decode()
        except InvalidToken as exc:  # wrong secret: say so without echoing anything
            raise ValueError("NIK cannot be decrypted with the configured secret") from exc

    def hash(self, nik: str) -> str:
        return hmac.new(self._hash_key, nik.encode(), hashlib.sha256).hexdigest()
