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
