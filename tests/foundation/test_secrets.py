from __future__ import annotations

import logging
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

from engine.errors import SecretsError
from engine.storage.secrets import SecretMaskingFilter, Vault, load_master_key

REPO = Path(__file__).resolve().parents[2]


def test_key_file_created_0600_and_reused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SENTITRADE_MASTER_KEY", raising=False)
    kf = tmp_path / "sub" / "master.key"
    k1 = load_master_key("SENTITRADE_MASTER_KEY", kf)
    assert stat.S_IMODE(kf.stat().st_mode) == 0o600
    assert load_master_key("SENTITRADE_MASTER_KEY", kf) == k1


def test_key_file_readable_by_others_refused(tmp_path: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SENTITRADE_MASTER_KEY", raising=False)
    kf = tmp_path / "master.key"
    kf.write_bytes(Fernet.generate_key())
    os.chmod(kf, 0o644)
    with pytest.raises(SecretsError, match="chmod 600"):
        load_master_key("SENTITRADE_MASTER_KEY", kf)


def test_env_key_wins_and_is_validated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SENTITRADE_MASTER_KEY", "not-a-key")
    with pytest.raises(SecretsError, match="not a valid Fernet key"):
        load_master_key("SENTITRADE_MASTER_KEY", tmp_path / "k")
    key = Fernet.generate_key().decode()
    monkeypatch.setenv("SENTITRADE_MASTER_KEY", key)
    assert load_master_key("SENTITRADE_MASTER_KEY", tmp_path / "k") == key.encode()
    assert not (tmp_path / "k").exists()


def test_vault_roundtrip_and_wrong_key() -> None:
    v = Vault(Fernet.generate_key())
    token = v.encrypt("api-secret")
    assert "api-secret" not in token
    assert v.decrypt(token) == "api-secret"
    with pytest.raises(SecretsError, match="cannot be decrypted"):
        Vault(Fernet.generate_key()).decrypt(token)


def test_masking_filter_covers_args_and_tracebacks() -> None:
    f = SecretMaskingFilter(["tok-123456", "tok-123456-longer"])
    logger = logging.getLogger("t.mask")
    records: list[logging.LogRecord] = []

    class H(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(record)

    h = H()
    h.addFilter(f)
    logger.addHandler(h)
    try:
        logger.warning("key=%s and %s", "tok-123456-longer", "tok-123456")
        try:
            raise RuntimeError("boom tok-123456")
        except RuntimeError:
            logger.exception("failed")
    finally:
        logger.removeHandler(h)
    fmt = logging.Formatter()
    text = "\n".join(fmt.format(r) for r in records)
    assert "tok-123456" not in text
    assert text.count("***") >= 3


def test_secrets_never_in_logs_or_database(tmp_path: Path) -> None:
    """Run real commands with secrets set; grep every log line and DB byte for them."""
    secrets = {
        "SENTITRADE_EXCHANGE__API_KEY": "AKexchange-key-9f8e7d",
        "SENTITRADE_EXCHANGE__SECRET": "SKexchange-secret-1a2b3c",
        "SENTITRADE_TELEGRAM__TOKEN": "123456:TGtoken-secret-zz",
        "SENTITRADE_DISCORD__TOKEN": "DCtoken.secret.value",
        "SENTITRADE_SENTIMENT__OPENAI_API_KEY": "sk-openai-secret-0000",
    }
    db = tmp_path / "db" / "s.db"
    env = {k: v for k, v in os.environ.items() if not k.startswith("SENTITRADE_")}
    env.update(secrets)
    env.update({
        "SENTITRADE_DATABASE__URL": f"sqlite:///{db}",
        "SENTITRADE_SECURITY__KEY_FILE": str(tmp_path / "master.key"),
        "SENTITRADE_LOGGING__LEVEL": "DEBUG",
        "SENTITRADE_LOGGING__FILE": str(tmp_path / "log" / "s.log"),
        "SENTITRADE_EXCHANGE__MODE": "replay",
    })
    cmd = [sys.executable, "-m", "bot.cli"]
    out = subprocess.run([*cmd, "demo"], env=env, cwd=REPO, capture_output=True, text=True,
                         timeout=600)
    assert out.returncode == 0, out.stderr[-2000:]
    out2 = subprocess.run([*cmd, "config", "show"], env=env, cwd=REPO, capture_output=True,
                          text=True, timeout=120)
    assert out2.returncode == 0
    blob = out.stdout + out.stderr + out2.stdout + out2.stderr
    blob += (tmp_path / "log" / "s.log").read_text()
    assert "DEBUG" in blob  # the log really was verbose
    db_bytes = b"".join(p.read_bytes() for p in db.parent.iterdir())
    for value in secrets.values():
        assert value not in blob, value
        assert value.encode() not in db_bytes, value
    # ... but they are stored, encrypted, and come back without the env vars
    import sqlite3

    rows = dict(sqlite3.connect(db).execute("select name, ciphertext from credentials"))
    assert set(rows) >= {"exchange.api_key", "exchange.secret", "telegram.token",
                         "discord.token", "sentiment.openai_api_key"}
    vault = Vault(load_master_key("NOPE_UNSET_VAR", tmp_path / "master.key", create=False))
    assert vault.decrypt(rows["telegram.token"]) == secrets["SENTITRADE_TELEGRAM__TOKEN"]


def test_secret_read_back_from_vault_is_masked_in_logs(tmp_path: Path) -> None:
    """A token stored once (not in env or file) is masked wherever it is loaded."""
    from engine.storage import migrate
    from engine.storage.config import load_settings
    from engine.storage.db import SessionFactory, make_engine
    from engine.storage.secrets import secret_filter
    from engine.storage.secrets_sync import sync_secrets

    url = f"sqlite:///{tmp_path}/v.db"
    migrate.upgrade(url)
    sessions = SessionFactory(make_engine(url))
    vault = Vault(Fernet.generate_key())
    token = "987654:vault-only-token-xyz"
    with sessions.begin() as s:
        vault.put(s, "telegram.token", token)
    settings = load_settings(None, env={"SENTITRADE_DATABASE__URL": url})
    assert settings.telegram.token is None
    filled = sync_secrets(settings, sessions, vault)
    assert filled.telegram.token is not None
    assert filled.telegram.token.get_secret_value() == token
    assert secret_filter().mask(f"sending with {token}") == "sending with ***"
