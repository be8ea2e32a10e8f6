"""The container files without a Docker daemon: every role service of the compose file
runs a command the multi-process test runs, and the image's entrypoint exists."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

import yaml

from tests.bus.test_roles import COMMANDS

ROOT = Path(__file__).resolve().parents[2]
INFRA = {"postgres", "redis", "prometheus", "grafana"}


def _compose() -> dict[str, Any]:
    return yaml.safe_load((ROOT / "deploy" / "docker-compose.yml").read_text())


def _strip_config(cmd: list[str]) -> list[str]:
    out, skip = [], False
    for a in cmd:
        if skip:
            skip = False
        elif a == "--config":
            skip = True
        else:
            out.append(a)
    return out


def test_every_role_service_runs_a_tested_command() -> None:
    services = _compose()["services"]
    roles = {n: s for n, s in services.items() if n not in INFRA}
    assert set(roles) == set(COMMANDS)  # one service per role, and the migration
    for name, svc in roles.items():
        assert _strip_config(svc["command"]) == COMMANDS[name], name
        assert "/config/sentitrade.toml" in svc["command"]
    assert services["engine"]["deploy"]["replicas"] >= 2
    for name in ("prometheus", "grafana"):
        assert services[name]["profiles"] == ["monitoring"]
    for mount in services["prometheus"]["volumes"] + services["grafana"]["volumes"]:
        assert (ROOT / "deploy" / mount.split(":")[0]).exists(), mount


def test_the_image_entrypoint_exists() -> None:
    text = (ROOT / "Dockerfile").read_text()
    lines = [ln for ln in text.splitlines() if ln.startswith("ENTRYPOINT")]
    assert lines == ['ENTRYPOINT ["sentitrade"]']
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    module, func = scripts["sentitrade"].split(":")
    import importlib

    assert callable(getattr(importlib.import_module(module), func))
    assert "USER sentitrade" in text and "NUMBA_CACHE_DIR" in text
    for src in [ln.split()[1] for ln in text.splitlines() if ln.startswith("COPY ")
                and "--from" not in ln]:
        assert (ROOT / src).exists(), src
    settings = tomllib.loads((ROOT / "deploy" / "sentitrade.toml").read_text())
    assert settings["exchange"]["mode"] != "live"
