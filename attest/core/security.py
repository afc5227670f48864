"""Passwords, access tokens and API keys.

Passwords are hashed with argon2id. Access tokens are short-lived HS256 JWTs signed with
``ATTEST_JWT_SECRET``; when that is empty, a random secret is created once in the data
directory (mode 0600, :func:`installation_secret`, which the audit log's key uses too) so
that every worker of one installation signs alike. API keys are
random (``atk_`` + 8-character prefix + 32 bytes of secret) and stored as SHA-256 hashes:
they carry enough entropy that a slow hash would only cost latency.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import os
import secrets
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from pathlib import Path
from typing import Any

import jwt
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from attest.core.settings import Settings

KEY_PREFIX = "atk_"
_hasher = PasswordHasher()
_ALGORITHM = "HS256"


class InvalidToken(Exception):
    """The token is malformed, expired or not signed by this installation."""


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def check_password(stored_hash: str | None, password: str) -> bool:
    """Whether ``password`` matches ``stored_hash``; False for no hash (an unknown user).

    Without a usable hash, a dummy one is verified instead, so that a sign-in for an unknown
    user costs as long as one for a known user and the time tells nothing about who exists.
    """
    try:
        if stored_hash:
            return _hasher.verify(stored_hash, password)
    except VerificationError:
        return False
    except InvalidHashError:
        pass
    with contextlib.suppress(VerificationError, InvalidHashError):
        _hasher.verify(_dummy_hash(), password)
    return False


@lru_cache(maxsize=1)
def _dummy_hash() -> str:
    """A hash of a random password with the same parameters as real ones (made on first use)."""
    return _hasher.hash(secrets.token_urlsafe(16))


def generate_password() -> str:
    return secrets.token_urlsafe(15)


def jwt_secret(settings: Settings) -> str:
    """The configured signing secret, or the installation's own (created on first use)."""
    configured = settings.jwt_secret.get_secret_value()
    if configured:
        return configured
    return installation_secret(Path(settings.data_dir).resolve() / "jwt-secret")


@lru_cache(maxsize=16)
def installation_secret(path: Path) -> str:
    """A random secret kept in ``path`` (mode 0600), created on first use; read once per process.

    It is written to a private temporary file and hard-linked into place, so that workers
    starting together agree on one secret and none reads a half-written file.
    """
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(fd, "w") as handle:
                handle.write(secrets.token_urlsafe(48))
                handle.flush()
                os.fsync(handle.fileno())
            os.link(temporary, path)
        except FileExistsError:
            pass  # another process was first; use its secret
        finally:
            temporary.unlink(missing_ok=True)
    return path.read_text().strip()


def issue_token(settings: Settings, *, user_id: int, username: str, generation: int = 0) -> tuple[str, int]:
    """A signed access token for ``user_id`` and its lifetime in seconds.

    It names the account's token generation, which a password change or deactivation
    bumps: every token issued before then stops working at once.
    """
    lifetime = settings.token_ttl_minutes * 60
    now = datetime.now(UTC)
    claims = {
        "sub": str(user_id),
        "name": username,
        "gen": generation,
        "iat": now,
        "exp": now + timedelta(seconds=lifetime),
    }
    return jwt.encode(claims, jwt_secret(settings), algorithm=_ALGORITHM), lifetime


def read_token(settings: Settings, token: str) -> dict[str, Any]:
    """The claims of a valid token; :class:`InvalidToken` otherwise."""
    try:
        return jwt.decode(
            token, jwt_secret(settings), algorithms=[_ALGORITHM], options={"require": ["exp", "sub", "gen"]}
        )
    except jwt.ExpiredSignatureError as exc:
        raise InvalidToken("The access token has expired; sign in again.") from exc
    except jwt.PyJWTError as exc:
        raise InvalidToken("The access token is not valid; sign in again.") from exc


def generate_api_key() -> tuple[str, str, str]:
    """A new key: (the full key, shown once; its prefix; the hash to store)."""
    prefix = secrets.token_hex(4)
    key = f"{KEY_PREFIX}{prefix}_{secrets.token_urlsafe(32)}"
    return key, prefix, hash_api_key(key)


def hash_api_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def split_api_key(key: str) -> str | None:
    """The prefix of a well-formed key, else None."""
    if not key.startswith(KEY_PREFIX):
        return None
    prefix, _, secret = key[len(KEY_PREFIX) :].partition("_")
    return prefix if len(prefix) == 8 and secret else None


def same_hash(a: str, b: str) -> bool:
    return hmac.compare_digest(a, b)
