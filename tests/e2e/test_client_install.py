"""The published package as a user installs it: the wheel alone is the SDK and the CLI (no server
stack), it sits beside the current tritonclient in one process, and it runs on the oldest protobuf
runtime it declares. Each case builds a clean virtualenv from the package index (slow)."""

import json
import os
import subprocess
import sys
import venv
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PROBE = Path(__file__).with_name("client_install_probe.py")
# The floor pyproject.toml declares for protobuf.
OLDEST_PROTOBUF = "5.26.1"
SERVER_ONLY = ["sqlalchemy", "tensorflow", "aiohttp", "alembic", "psycopg", "grpc_health", "opentelemetry"]

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


@pytest.fixture(scope="module")
def distributions(tmp_path_factory) -> dict[str, Path]:
    out = tmp_path_factory.mktemp("dist")
    subprocess.run(
        [sys.executable, "-m", "build", "--no-isolation", "--outdir", str(out), str(ROOT)],
        check=True,
        capture_output=True,
    )
    return {"wheel": next(out.glob("maas-*.whl")), "sdist": next(out.glob("maas-*.tar.gz"))}


def _virtualenv(path: Path, *requirements: str) -> Path:
    venv.create(path, with_pip=True)
    python = path / "bin" / "python"
    subprocess.run([python, "-m", "pip", "install", "--quiet", *requirements], check=True, capture_output=True)
    return python


def _probe(python: Path, stack, journey, *flags: str) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MAAS_", "PYTHON"))}
    done = subprocess.run(
        [python, str(PROBE), stack.address("gateway"), journey.api_key, "digits", *flags],
        capture_output=True,
        text=True,
        env=env,
        cwd=python.parent,  # not the checkout, whose maas/ would shadow the installed package
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_the_wheel_states_its_licence_as_an_spdx_expression(distributions):
    import zipfile

    with zipfile.ZipFile(distributions["wheel"]) as wheel:
        metadata = next(wheel.read(n).decode() for n in wheel.namelist() if n.endswith(".dist-info/METADATA"))
    assert "License-Expression: Apache-2.0" in metadata.splitlines()
    assert not [line for line in metadata.splitlines() if line.startswith("Classifier: License ::")]


def test_the_sdist_carries_the_sources_and_the_contracts(distributions):
    import tarfile

    with tarfile.open(distributions["sdist"]) as sdist:
        names = sdist.getnames()
    assert any(n.endswith("maas/client/client.py") for n in names)
    assert any(n.endswith("maas/inference/v2/grpc_service_pb2.py") for n in names)


def test_the_wheel_alone_is_the_sdk_and_cli_and_works_beside_the_newest_tritonclient(
    distributions, stack, journey, tmp_path
):
    python = _virtualenv(tmp_path / "venv", str(distributions["wheel"]))
    found = subprocess.run(
        [python, "-c", f"import importlib.util as u; print([m for m in {SERVER_ONLY!r} if u.find_spec(m)])"],
        capture_output=True,
        text=True,
        check=True,
        cwd=tmp_path,
    )
    assert found.stdout.strip() == "[]", f"the slim install pulled in server packages: {found.stdout}"
    cli = python.parent / "maas"
    assert "usage: maas" in subprocess.run([cli, "--help"], capture_output=True, text=True, check=True).stdout
    env = {**os.environ, "MAAS_ENDPOINT": stack.address("gateway"), "MAAS_API_KEY": journey.api_key}
    listed = subprocess.run([cli, "models", "list"], capture_output=True, text=True, env=env, cwd=tmp_path)
    assert listed.returncode == 0 and "digits" in listed.stdout, listed.stdout + listed.stderr
    up = subprocess.run([cli, "up"], capture_output=True, text=True, env=env, cwd=tmp_path, timeout=60)
    assert up.returncode != 0 and "pip install 'maas[all]'" in up.stderr, up.stderr
    # Alone, the wheel takes the newest protobuf it allows (7.x; tritonclient holds it below 7 after).
    alone = _probe(python, stack, journey)
    print(f"the wheel alone on protobuf {alone['protobuf']}: {alone}")
    assert int(alone["protobuf"].split(".")[0]) >= 7
    assert len(alone["argmax"]) == 5 and "models/digits" in alone["models"]

    subprocess.run(
        [python, "-m", "pip", "install", "--quiet", "tritonclient[grpc]>=2.70"], check=True, capture_output=True
    )
    report = _probe(python, stack, journey, "--triton")
    print(f"newest tritonclient {report['tritonclient']} on protobuf {report['protobuf']}: {report}")
    assert report["max_difference"] < 1e-5
    assert "models/digits" in report["models"]


def test_the_sdk_runs_on_the_oldest_protobuf_it_declares_beside_tritonclient(distributions, stack, journey, tmp_path):
    # pip picks the newest tritonclient that runs on that protobuf.
    python = _virtualenv(
        tmp_path / "venv", str(distributions["wheel"]), f"protobuf=={OLDEST_PROTOBUF}", "tritonclient[grpc]"
    )
    report = _probe(python, stack, journey, "--triton")
    print(f"oldest protobuf, tritonclient {report['tritonclient']}: {report}")
    assert report["protobuf"] == OLDEST_PROTOBUF
    assert len(report["argmax"]) == 5 and "models/digits" in report["models"]
    assert report["max_difference"] < 1e-5
