"""Docker cannot run here: check that the deploy files parse and point at real paths."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from bot.config import Settings

ROOT = Path(__file__).resolve().parents[1]


def test_compose_file_is_valid_and_durable() -> None:
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    redis, bot = compose["services"]["redis"], compose["services"]["altbot"]
    assert "--appendonly" in redis["command"] and "yes" in redis["command"]
    assert any(v.endswith(":/data") for v in redis["volumes"])
    assert redis["healthcheck"]["test"]
    assert (ROOT / bot["build"]).is_dir() and (ROOT / bot["build"] / "Dockerfile").is_file()
    assert bot["env_file"] == ".env" and (ROOT / ".env.example").is_file()
    assert "/healthz" in " ".join(bot["healthcheck"]["test"])
    assert bot["depends_on"]["redis"]["condition"] == "service_healthy"
    assert bot["restart"] == "unless-stopped"


def test_dockerfile_copies_existing_paths_and_runs_as_non_root() -> None:
    text = (ROOT / "Dockerfile").read_text()
    for src in re.findall(r"^COPY (?!--from)(.+) \S+$", text, flags=re.M):
        for path in src.split():
            assert (ROOT / path).exists(), path
    assert re.search(r"^USER (?!root)\S+", text, flags=re.M)
    assert 'ENTRYPOINT ["altbot"]' in text and 'CMD ["run"]' in text


def test_env_example_lists_every_setting() -> None:
    text = (ROOT / ".env.example").read_text()
    names = set(re.findall(r"^([A-Z_]+)=", text, flags=re.M))
    assert {name.upper() for name in Settings.model_fields} <= names
