"""docker/compose.yaml and the Dockerfiles, checked without a Docker engine; settings documented in operations.md."""

import re

import pytest
import yaml

from modules.spec import LANES


@pytest.fixture(scope="module")
def compose(repo_root):
    return yaml.safe_load((repo_root / "docker" / "compose.yaml").read_text(encoding="utf-8"))


def test_it_defines_the_production_services(compose):
    assert {"web", "worker", "worker-long", "worker-gpu", "postgres", "redis", "migrate"} <= set(
        compose["services"]
    )


def test_each_lane_has_a_worker_that_consumes_its_queue(compose):
    def queue(service):
        command = compose["services"][service]["command"]
        return command[command.index("-Q") + 1]

    assert (queue("worker"), queue("worker-long"), queue("worker-gpu")) == ("short", "long", "gpu")
    assert set(LANES) == {"short", "long", "gpu"}


def test_the_gpu_worker_reserves_a_gpu(compose):
    devices = compose["services"]["worker-gpu"]["deploy"]["resources"]["reservations"]["devices"]
    assert devices[0]["capabilities"] == ["gpu"]


def test_every_app_service_runs_in_production_mode_with_file_secrets(compose):
    for name in ("web", "worker", "worker-long", "worker-gpu", "migrate"):
        env = compose["services"][name]["environment"]
        assert env["LAB_MODE"] == "production"
        assert env["DATABASE_URL"].startswith("postgres://")
        # the stack's own Redis, or another machine's (LAB_REDIS_HOST, a worker machine's)
        assert re.fullmatch(r"redis://\$\{LAB_REDIS_HOST:-redis\}:6379/\d+", env["REDIS_URL"])
        assert env["DJANGO_SECRET_KEY_FILE"].startswith("/run/secrets/")
        assert "DJANGO_SECRET_KEY" not in env


def test_workers_use_the_docker_sandbox(compose):
    for name in ("worker", "worker-long", "worker-gpu"):
        service = compose["services"][name]
        assert service["environment"]["SANDBOX_BACKEND"] == "docker"
        assert "/var/run/docker.sock:/var/run/docker.sock" in service["volumes"]


def test_the_web_waits_for_migrations(compose):
    assert (
        compose["services"]["web"]["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
    )


@pytest.mark.parametrize(
    "name", ["python.Dockerfile", "web.Dockerfile", "worker.Dockerfile", "worker-gpu.Dockerfile"]
)
def test_each_image_pins_torch_or_leaves_it_out(repo_root, name):
    text = (repo_root / "docker" / name).read_text(encoding="utf-8")
    assert text.startswith("#") and "FROM " in text
    installs = re.findall(r"pip install[^\n]*torch[^\n]*", text)
    assert all("torch==2.13.0" in line for line in installs)
    if name in ("python.Dockerfile", "web.Dockerfile"):  # the web tier never imports torch
        assert installs == []
    if name == "python.Dockerfile":
        assert "-r /tmp/requirements-app.txt" in text
        script = (repo_root / "scripts" / "stack-images.sh").read_text(encoding="utf-8")
        assert "grep -v '^torch==' requirements.txt >\"$work/requirements-app.txt\"" in script


def test_every_image_the_stack_runs_is_built_by_the_stack_script(repo_root, compose):
    script = (repo_root / "scripts" / "stack-images.sh").read_text(encoding="utf-8")
    built = set(re.findall(r"^(?:  )?build ([a-z-]+) ", script, re.M)) | {"sandbox"}
    images = {service["image"] for service in compose["services"].values()}
    images |= {
        service["environment"].get("SANDBOX_DOCKER_IMAGE")
        for service in compose["services"].values()
        if "SANDBOX_DOCKER_IMAGE" in (service.get("environment") or {})
    }
    assert images - {"nanochat-lab-sandbox:cuda"} == {f"nanochat-lab-{name}:latest" for name in built} - {
        "nanochat-lab-python:latest"
    }
    assert all("build:" not in service for service in compose["services"].values())


def test_every_setting_read_from_the_environment_is_documented(repo_root, compose):
    settings_text = (repo_root / "labplatform" / "settings.py").read_text(encoding="utf-8")
    docs = (repo_root / "docs" / "operations.md").read_text(encoding="utf-8")
    names = set(re.findall(r'env_(?:str|bool|int|list|secret)\(\s*"([A-Z_]+)"', settings_text))
    names |= {
        n for s in compose["services"].values() for n in (s.get("environment") or {}) if n.startswith("LAB_")
    }
    assert names, "no settings found"
    missing = sorted(n for n in names if n not in docs)
    assert missing == []
