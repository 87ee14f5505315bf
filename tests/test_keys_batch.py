"""The batch forms of the keyring used by imports give what the one-at-a-time forms give."""

from __future__ import annotations

from cryptography.fernet import Fernet

from bot.core.keys import Keyring
from bot.services.imports.people import new_codes
from flows.text import CODE_ALPHABET, CODE_LENGTH


def test_encrypt_many_makes_fernet_tokens_that_decrypt():
    keys = Keyring(b"test-secret")
    texts = ["ABCDEFGH1234", "", "x" * 16, "Nguyễn Văn A, một văn bản dài hơn một khối" * 3]
    tokens = keys.encrypt_many(texts)
    assert [keys.decrypt(token) for token in tokens] == texts
    assert len(set(keys.encrypt_many(["same", "same"]))) == 2  # a fresh IV each
    assert keys.encrypt_many([]) == []
    other = Keyring(b"another-secret")
    assert other.decrypt(tokens[0]) is None  # signed with the deployment's key
    fernet = keys._fernet
    assert isinstance(fernet, Fernet) and fernet.decrypt(tokens[0].encode()) == b"ABCDEFGH1234"


def test_bulk_codes_are_like_new_code():
    codes = new_codes(5000)
    assert len(set(codes)) == 5000
    for code in codes:
        assert len(code) == CODE_LENGTH and set(code) <= set(CODE_ALPHABET)
        assert any(ch.isdigit() for ch in code)  # never a word typed in a chat


def test_encrypt_many_of_single_blocks_at_once():
    """Survey codes (one AES block each) are enciphered in one call: the same tokens."""
    keys = Keyring(b"test-secret")
    texts = [f"K7QM2XWD{i:04d}" for i in range(300)] + ["", "x" * 15]
    tokens = keys.encrypt_many(texts)
    assert [keys._fernet.decrypt(token.encode()).decode() for token in tokens] == texts
    assert len(set(tokens)) == len(texts)


def test_hashes_are_hmac_sha256():
    import hashlib
    import hmac

    keys = Keyring(b"test-secret")
    code_key = hmac.new(b"test-secret", b"sipas/code", hashlib.sha256).digest()
    id_key = hmac.new(b"test-secret", b"sipas/user-id", hashlib.sha256).digest()
    assert keys.code_hash("ABC") == hmac.new(code_key, b"ABC", hashlib.sha256).hexdigest()
    assert (
        keys.user_hash("telegram", "42")
        == hmac.new(id_key, b"telegram:42", hashlib.sha256).hexdigest()[:40]
    )
