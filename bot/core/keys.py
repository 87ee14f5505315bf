"""The secret key and what it keys: pseudonyms, code hashes, encrypted contact ids.

``SIPAS_SECRET_KEY`` wins; otherwise a random key is generated once into
``<data dir>/secret.key`` (mode 600). Losing it makes existing survey codes and
pseudonyms unmatchable, so back it up with the database.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets
import struct
import time
from pathlib import Path

from flows.text import CODE_ALPHABET, CODE_LENGTH


def load_or_create_secret(explicit: str | None, data_dir: Path) -> bytes:
    """The deployment's secret key as bytes."""
    if explicit:
        return explicit.encode()
    path = data_dir / "secret.key"
    if path.exists():
        return path.read_text().strip().encode()
    data_dir.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(48)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(key + "\n")
    return key.encode()


class Keyring:
    """Everything derived from the secret key."""

    def __init__(self, secret: bytes) -> None:
        self._id_key = self._derive(secret, b"sipas/user-id")
        self._code_key = self._derive(secret, b"sipas/code")
        contact = self._derive(secret, b"sipas/contact")
        self._contact_key = base64.urlsafe_b64encode(contact)
        self._fernet_instance = None
        self._sign_key, self._aes_key = contact[:16], contact[16:]  # Fernet's halves
        self._id_mac, self._code_mac = _Sha256Mac(self._id_key), _Sha256Mac(self._code_key)
        self._sign_mac = _Sha256Mac(self._sign_key)
        self.web_key = self._derive(secret, b"sipas/web-session")  # signs web chat sessions

    @staticmethod
    def _derive(secret: bytes, purpose: bytes) -> bytes:
        return hmac.new(secret, purpose, hashlib.sha256).digest()

    def user_hash(self, channel: str, user_id: str) -> str:
        """A chat user's pseudonym: the same person on one channel always gets the same one."""
        return self._id_mac(f"{channel}:{user_id}".encode()).hex()[:40]

    def code_hash(self, code: str) -> str:
        """What is stored for a normalised survey or registration code."""
        return self._code_mac(code.encode()).hex()

    @property
    def _fernet(self):
        # Made when first needed: importing cryptography's Fernet costs a report command
        # (which encrypts nothing) a fiftieth of its start-up.
        if self._fernet_instance is None:
            from cryptography.fernet import Fernet

            self._fernet_instance = Fernet(self._contact_key)
        return self._fernet_instance

    def encrypt(self, text: str) -> str:
        return self._fernet.encrypt(text.encode()).decode()

    def encrypt_many(self, texts: list[str]) -> list[str]:
        """``[encrypt(t) for t in texts]`` for files of codes, about a tenth of the cost:
        the same Fernet tokens (AES-128-CBC, then HMAC-SHA256; ``decrypt`` reads them),
        with one read of the random source and one AES context for the whole batch (CBC
        done over ECB, which is what CBC is). Texts of one block (survey codes) are
        enciphered all at once: each one's IV XOR its block, one ECB call for them all."""
        if not texts:
            return []
        from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

        block = Cipher(algorithms.AES(self._aes_key), modes.ECB()).encryptor()
        ivs = os.urandom(16 * len(texts))
        stamp = b"\x80" + struct.pack(">Q", int(time.time()))
        padded = [_pkcs7(text.encode()) for text in texts]
        if all(len(data) == 16 for data in padded):
            plain = b"".join(padded)
            mixed = (int.from_bytes(ivs, "big") ^ int.from_bytes(plain, "big")).to_bytes(
                len(plain), "big"
            )
            ciphers = block.update(mixed)
            bodies = [stamp + ivs[i : i + 16] + ciphers[i : i + 16] for i in range(0, len(ivs), 16)]
        else:
            bodies = [
                stamp + ivs[16 * n : 16 * n + 16] + _cbc(block, ivs[16 * n : 16 * n + 16], data)
                for n, data in enumerate(padded)
            ]
        sign, b64 = self._sign_mac, base64.urlsafe_b64encode
        return [b64(body + sign(body)).decode() for body in bodies]

    def decrypt(self, token: str) -> str | None:
        from cryptography.fernet import InvalidToken

        try:
            return self._fernet.decrypt(token.encode()).decode()
        except InvalidToken:
            return None


class _Sha256Mac:
    """HMAC-SHA256 under one key, its padded key states hashed once (RFC 2104): a third
    of the cost of ``hmac.new`` or ``hmac.digest`` per message, the same digests."""

    def __init__(self, key: bytes) -> None:
        if len(key) > 64:
            key = hashlib.sha256(key).digest()
        key = key.ljust(64, b"\0")
        self._inner = hashlib.sha256(bytes(b ^ 0x36 for b in key)).copy
        self._outer = hashlib.sha256(bytes(b ^ 0x5C for b in key)).copy

    def __call__(self, message: bytes) -> bytes:
        inner = self._inner()
        inner.update(message)
        outer = self._outer()
        outer.update(inner.digest())
        return outer.digest()


def _pkcs7(data: bytes) -> bytes:
    pad = 16 - len(data) % 16
    return data + bytes((pad,)) * pad


def _cbc(block, iv: bytes, data: bytes) -> bytes:
    """AES-CBC of padded ``data`` through an ECB ``block`` encryptor, block by block."""
    previous, parts = int.from_bytes(iv, "big"), []
    for start in range(0, len(data), 16):
        mixed = (previous ^ int.from_bytes(data[start : start + 16], "big")).to_bytes(16, "big")
        cipher = block.update(mixed)
        parts.append(cipher)
        previous = int.from_bytes(cipher, "big")
    return b"".join(parts)


def new_code() -> str:
    """A random code of 12 Crockford base32 characters (about 60 bits), with at least
    one digit, so that no word typed in a chat can be taken for it."""
    while True:
        code = "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))
        if any(ch.isdigit() for ch in code):
            return code
