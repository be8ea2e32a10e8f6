"""Secrets at rest and in logs.

Exchange keys and bot tokens are stored Fernet-encrypted in `credentials`; the master
key comes from an env var or from a key file created once with mode 0600. Every log
record passes through `SecretMaskingFilter`, so a secret that slips into a message, an
argument or a traceback is printed as `***`.
"""

from __future__ import annotations

import logging
import os
import stat
from collections.abc import Iterable
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken
from sqlmodel import Session, select

from engine.errors import SecretsError
from engine.storage.dbtypes import utcnow
from engine.storage.models import Credential

MASK = "***"


def load_master_key(env_var: str, key_file: Path, create: bool = True) -> bytes:
    """The Fernet key: `env_var` if set, else `key_file` (created 0600 when missing)."""
    value = os.environ.get(env_var)
    if value:
        key = value.strip().encode()
        _check_key(key, f"env var {env_var}")
        return key
    path = Path(key_file)
    if path.exists():
        mode = stat.S_IMODE(path.stat().st_mode)
        if mode & 0o077:
            raise SecretsError(
                f"master key file {path} is readable by others (mode {mode:o}): "
                f"run `chmod 600 {path}`"
            )
        key = path.read_bytes().strip()
        _check_key(key, f"key file {path}")
        return key
    if not create:
        raise SecretsError(f"no master key: set {env_var} or create {path}")
    path.parent.mkdir(parents=True, exist_ok=True)
    key = Fernet.generate_key()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(key + b"\n")
    return key


def _check_key(key: bytes, where: str) -> None:
    try:
        Fernet(key)
    except (ValueError, TypeError):
        raise SecretsError(
            f"master key in {where} is not a valid Fernet key "
            "(44 url-safe base64 characters; make one with `sentitrade config genkey`)"
        ) from None


class Vault:
    """Encrypts and decrypts named secrets stored in the `credentials` table."""

    def __init__(self, key: bytes) -> None:
        self._fernet = Fernet(key)

    def encrypt(self, plaintext: str) -> str:
        return self._fernet.encrypt(plaintext.encode()).decode()

    def decrypt(self, token: str) -> str:
        try:
            return self._fernet.decrypt(token.encode()).decode()
        except InvalidToken:
            raise SecretsError(
                "stored secret cannot be decrypted: the master key changed or the row is corrupt"
            ) from None

    def put(self, session: Session, name: str, plaintext: str) -> None:
        """Store (or replace) `name`; the caller commits."""
        row = session.exec(select(Credential).where(Credential.name == name)).first()
        token = self.encrypt(plaintext)
        if row is None:
            session.add(Credential(name=name, ciphertext=token))
        else:
            row.ciphertext = token
            row.updated_at = utcnow()
            session.add(row)

    def get(self, session: Session, name: str) -> str | None:
        row = session.exec(select(Credential).where(Credential.name == name)).first()
        return None if row is None else self.decrypt(row.ciphertext)


class SecretMaskingFilter(logging.Filter):
    """Replaces every known secret in a record (message, args, traceback) by `***`."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        super().__init__()
        self._secrets: list[str] = []
        self.add(secrets)

    def add(self, secrets: Iterable[str]) -> None:
        # Longest first so that a secret containing another is masked whole.
        merged = set(self._secrets) | {s for s in secrets if s and len(s) >= 4}
        self._secrets = sorted(merged, key=len, reverse=True)

    def mask(self, text: str) -> str:
        for s in self._secrets:
            if s in text:
                text = text.replace(s, MASK)
        return text

    def filter(self, record: logging.LogRecord) -> bool:
        if not self._secrets:
            return True
        record.msg = self.mask(record.getMessage())
        record.args = None
        if record.exc_info and record.exc_info[1] is not None:
            import traceback

            record.exc_text = self.mask("".join(traceback.format_exception(*record.exc_info)))
            record.exc_info = None
        if record.stack_info:
            record.stack_info = self.mask(record.stack_info)
        return True


_FILTER = SecretMaskingFilter()


def secret_filter() -> SecretMaskingFilter:
    """The process-wide filter installed on every handler by `configure_logging`."""
    return _FILTER


def configure_logging(level: str, secrets: Iterable[str], file: Path | None = None) -> None:
    """Install handlers on the root logger, each masking `secrets`."""
    _FILTER.add(secrets)
    root = logging.getLogger()
    root.setLevel(level)
    fmt = logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s")
    handlers: list[logging.Handler] = [logging.StreamHandler()]
    if file is not None:
        Path(file).parent.mkdir(parents=True, exist_ok=True)
        handlers.append(logging.FileHandler(file))
    for h in list(root.handlers):
        if getattr(h, "_sentitrade", False):
            root.removeHandler(h)
    for h in handlers:
        h.setFormatter(fmt)
        h.addFilter(_FILTER)
        h._sentitrade = True  # type: ignore[attr-defined]
        root.addHandler(h)
    # Filters on handlers don't see records of other handlers (pytest's caplog...):
    # also filter at the root logger so every propagated record is masked first.
    if _FILTER not in root.filters:
        root.addFilter(_FILTER)
    for noisy in ("httpx", "httpcore", "apscheduler.executors", "numba", "alembic"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, root.level))
