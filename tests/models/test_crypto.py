"""NIKs at rest: encrypted for reading back, keyed hash for uniqueness."""

from __future__ import annotations

import hashlib
import re

import pytest

from models.crypto import MIN_SECRET_LENGTH, NikVault, WeakSecret
from tests.conftest import SECRET, synthetic_nik

NIK = synthetic_nik(serial=4321)
OTHER_SECRET = "another-secret-" + "y" * 20


def test_encrypt_then_decrypt_gives_the_nik_back():
    vault = NikVault(SECRET)

    assert vault.decrypt(vault.encrypt(NIK)) == NIK


def test_a_new_vault_with_the_same_secret_decrypts():
    assert NikVault(SECRET).decrypt(NikVault(SECRET).encrypt(NIK)) == NIK


def test_ciphertext_does_not_contain_the_nik():
    token = NikVault(SECRET).encrypt(NIK)

    assert NIK not in token
    assert NIK[-8:] not in token
    assert len(token) <= 200  # Proposal.nik_encrypted is VARCHAR(200)


def test_encrypting_twice_gives_different_ciphertexts():
    vault = NikVault(SECRET)

    assert vault.encrypt(NIK) != vault.encrypt(NIK)


def test_hash_is_deterministic_hex_and_fits_its_column():
    digest = NikVault(SECRET).hash(NIK)

    assert digest == NikVault(SECRET).hash(NIK)
    assert re.fullmatch(r"[0-9a-f]{64}", digest)
    assert NIK not in digest


def test_hash_tells_niks_apart():
    vault = NikVault(SECRET)

    assert vault.hash(NIK) != vault.hash(synthetic_nik(serial=4322))


def test_hash_is_keyed():
    assert NikVault(SECRET).hash(NIK) != NikVault(OTHER_SECRET).hash(NIK)
    assert NikVault(SECRET).hash(NIK) != hashlib.sha256(NIK.encode()).hexdigest()


def test_wrong_secret_cannot_decrypt_and_does_not_echo_anything():
    token = NikVault(SECRET).encrypt(NIK)

    with pytest.raises(ValueError, match="cannot be decrypted") as refused:
        NikVault(OTHER_SECRET).decrypt(token)

    message = str(refused.value)
    assert NIK not in message
    assert token not in message
    assert not isinstance(refused.value, WeakSecret)


@pytest.mark.parametrize("token", ["", "garbage", NIK])
def test_something_that_is_not_a_token_cannot_be_decrypted(token):
    with pytest.raises(ValueError, match="cannot be decrypted") as refused:
        NikVault(SECRET).decrypt(token)

    assert NIK not in str(refused.value)


@pytest.mark.parametrize("secret", ["", "short", "x" * (MIN_SECRET_LENGTH - 1)])
def test_short_secrets_are_refused(secret):
    with pytest.raises(WeakSecret):
        NikVault(secret)


def test_a_secret_of_the_minimum_length_is_accepted():
    assert MIN_SECRET_LENGTH >= 16
    vault = NikVault("x" * MIN_SECRET_LENGTH)

    assert vault.decrypt(vault.encrypt(NIK)) == NIK
