"""Keep configured secrets encrypted in the DB and fill missing ones from it.

A token given once (env var or config file) is stored Fernet-encrypted in
`credentials`; later starts may omit it and get it back from the vault. The DB never
holds a secret in clear.
"""

from __future__ import annotations

from pydantic import BaseModel, SecretStr

from engine.storage.config import Settings
from engine.storage.db import SessionFactory
from engine.storage.secrets import Vault, load_master_key, secret_filter

SECRET_FIELDS: tuple[tuple[str, str], ...] = (
    ("exchange", "api_key"),
    ("exchange", "secret"),
    ("exchange", "password"),
    ("telegram", "token"),
    ("telegram", "callback_secret"),
    ("discord", "token"),
    ("sentiment", "openai_api_key"),
    ("sentiment", "cryptopanic_token"),
)


def vault_for(settings: Settings) -> Vault:
    return Vault(load_master_key(settings.security.master_key_env, settings.security.key_file))


def sync_secrets(settings: Settings, sessions: SessionFactory, vault: Vault) -> Settings:
    """Store configured secrets encrypted; return settings with stored ones filled in."""
    updates: dict[str, dict[str, SecretStr]] = {}
    with sessions.begin() as s:
        for section_name, field in SECRET_FIELDS:
            section: BaseModel = getattr(settings, section_name)
            value = getattr(section, field, None)
            name = f"{section_name}.{field}"
            if isinstance(value, SecretStr) and value.get_secret_value():
                if vault.get(s, name) != value.get_secret_value():
                    vault.put(s, name, value.get_secret_value())
            else:
                stored = vault.get(s, name)
                if stored:
                    updates.setdefault(section_name, {})[field] = SecretStr(stored)
    if not updates:
        return settings
    # Every process that reads a secret back from the vault must also mask it in logs.
    secret_filter().add(v.get_secret_value() for f in updates.values() for v in f.values())
    return settings.model_copy(
        update={
            name: getattr(settings, name).model_copy(update=fields)
            for name, fields in updates.items()
        }
    )
