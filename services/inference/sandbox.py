"""Validation of a new model version in a process of its own: unpack or convert the artifact,
check its ops, load it, derive its signature and answer a warm-up call. A model that crashes
TensorFlow, loops or fills the disk takes down only this process, which runs with CPU-time and
file-size limits, a wall-clock timeout, an empty working directory and no credentials in its
environment. The serving process loads the result only once it passed.

Run as `python -m services.inference.sandbox ARCHIVE TARGET CPU_SECONDS FILE_BYTES`: prints one JSON line,
{"signature": ..., "format": ...} or {"reason": ...}."""

from __future__ import annotations

import asyncio
import json
import os
import resource
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from google.protobuf import json_format

from maas.registry.v1 import registry_pb2 as rpb

# What the sandbox may not inherit: every platform setting and any cloud credential.
_SECRET_PREFIXES = ("MAAS_", "AWS_", "GOOGLE_", "AZURE_", "KUBERNETES_")


@dataclass(frozen=True)
class Validation:
    """What the sandbox found: a signature and format, or the reason the version is refused."""

    signature: rpb.Signature | None = None
    format: str = ""
    reason: str = ""


def _limits(cpu_seconds: int, file_bytes: int) -> None:
    resource.setrlimit(resource.RLIMIT_CPU, (cpu_seconds, cpu_seconds))
    resource.setrlimit(resource.RLIMIT_FSIZE, (file_bytes, file_bytes))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))


async def validate(archive: Path, target: Path, limit_seconds: float, file_bytes: int) -> Validation:
    """Run the sandbox on `archive`, leaving the SavedModel in `target` when it passes."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(_SECRET_PREFIXES)}
    env["TF_CPP_MIN_LOG_LEVEL"] = "2"
    env["CUDA_VISIBLE_DEVICES"] = ""
    with tempfile.TemporaryDirectory(prefix="maas-sandbox-") as cwd:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "services.inference.sandbox",
            str(archive),
            str(target),
            str(int(limit_seconds) + 1),
            str(file_bytes),
            cwd=cwd,
            env={**env, "PYTHONPATH": os.pathsep.join(sys.path)},
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        try:
            async with asyncio.timeout(limit_seconds):
                out, err = await process.communicate()
        except TimeoutError:
            process.kill()
            await process.wait()
            return Validation(reason=f"validation did not finish within {limit_seconds:.0f} s")
    lines = out.decode(errors="replace").strip().splitlines()
    if process.returncode != 0 or not lines:
        tail = err.decode(errors="replace").strip().splitlines()[-1:] or [f"exit code {process.returncode}"]
        return Validation(reason=f"the model crashed the validation process ({tail[0][:300]})")
    answer = json.loads(lines[-1])
    if "reason" in answer:
        return Validation(reason=answer["reason"])
    return Validation(json_format.ParseDict(answer["signature"], rpb.Signature()), answer["format"])


def check_and_derive(directory: Path):
    """Op check, load, signature and a warm-up call of a SavedModel directory; returns
    (loaded SavedModel, signature). Raises UnsafeModel, SignatureError or a TensorFlow error."""
    import tensorflow as tf

    from services.inference.safety import check_saved_model
    from services.inference.signature import derive

    check_saved_model(directory)
    saved_model = tf.saved_model.load(str(directory))
    signature = derive(saved_model)
    function = saved_model.signatures[signature.key]
    result = function(**{name: tf.constant(value) for name, value in signature.probe_inputs(1).items()})
    if set(result) != set(signature.outputs):
        raise ValueError(f"the warm-up call returned {sorted(result)}, not the signature's {sorted(signature.outputs)}")
    return saved_model, signature


def _run(archive: Path, target: Path) -> dict:
    from services.inference.artifact import InvalidArtifact, prepare
    from services.inference.safety import UnsafeModel
    from services.inference.signature import SignatureError

    try:
        fmt = prepare(archive, target)
        _, signature = check_and_derive(target)
    except (InvalidArtifact, UnsafeModel, SignatureError) as error:
        return {"reason": str(error)}
    except Exception as error:  # noqa: BLE001 - TensorFlow's many errors all mean "does not load or run"
        first = (str(error).strip().splitlines() or [type(error).__name__])[0]
        return {"reason": f"the model does not load or answer a warm-up call: {first[:300]}"}
    return {"signature": json_format.MessageToDict(signature.to_proto()), "format": fmt}


def main() -> None:
    archive, target, cpu_seconds, file_bytes = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3], sys.argv[4]
    # Set here, before anything is imported or read, rather than between fork and exec in the
    # server (a preexec function in a process full of TensorFlow and gRPC threads is unsafe).
    _limits(int(cpu_seconds), int(file_bytes))
    print(json.dumps(_run(archive, target)), flush=True)


if __name__ == "__main__":
    main()
