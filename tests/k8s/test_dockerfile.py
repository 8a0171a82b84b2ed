"""The Dockerfile cannot be built here (no Docker engine), so its rules are checked as text."""

import re
from pathlib import Path

DOCKERFILE = (Path(__file__).resolve().parents[2] / "Dockerfile").read_text()
TARGETS = {"gateway", "registry", "trainer", "inference", "trainer-gpu", "inference-gpu"}


def stages() -> dict[str, tuple[str, str]]:
    """Stage name -> (base, body)."""
    found = {}
    parts = re.split(r"^FROM\s+", DOCKERFILE, flags=re.M)[1:]
    for part in parts:
        header, _, body = part.partition("\n")
        base, _, name = header.partition(" AS ")
        found[name.strip()] = (base.strip(), body)
    return found


def ancestry(name: str, all_stages) -> list[str]:
    chain = [name]
    while all_stages[chain[-1]][0] in all_stages:
        chain.append(all_stages[chain[-1]][0])
    return chain


def test_every_service_has_a_target_running_as_non_root():
    all_stages = stages()
    assert set(all_stages) >= TARGETS
    for target in TARGETS:
        body = all_stages[target][1]
        user = re.search(r"^USER\s+(\S+)", body, flags=re.M)
        assert user and not user.group(1).startswith(("root", "0")), target
        assert f'"services.{target.removesuffix("-gpu")}"' in body


def test_final_stages_carry_no_build_tools_and_slim_ones_no_tensorflow():
    all_stages = stages()
    for target in TARGETS:
        chain = ancestry(target, all_stages)
        assert "builder" not in chain, target
        text = "".join(all_stages[s][1] for s in chain)
        assert "build-essential" not in text and "gcc" not in text, target
    for target in ("gateway", "registry"):
        text = "".join(all_stages[s][1] for s in ancestry(target, all_stages))
        assert "tensorflow" not in text and "[ml" not in text, target
