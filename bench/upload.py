"""Upload benchmark: a large artifact (2 GB by default) through the gateway with the SDK's
resumable upload, killed half-way (SIGKILL of the client process) and started again: the second
run sends only the rest, and the artifact's sha256 is the file's. Prints the peak resident memory
of the client (each run), the gateway and the registry against their idle size (memory must not
grow with the artifact), and the throughput against a plain file copy on the same disk.

Usage (repository root): python -m bench.upload [--size-mb 2048] [--smoke]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import grpc

from bench._stack import local_stack, parse_args, tenant_key
from maas.client import MaasClient
from maas.registry.v1 import registry_pb2 as rpb

BLOCK = 8 << 20


def peak_rss_mb(pid: int) -> float:
    """The process's peak resident set (VmHWM) so far, in MiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmHWM")


def write_random(path: Path, size: int) -> str:
    digest = hashlib.sha256()
    with path.open("wb") as file:
        left = size
        while left:
            block = os.urandom(min(BLOCK, left))
            digest.update(block)
            file.write(block)
            left -= len(block)
    return digest.hexdigest()


def client_main(endpoint: str, key: str, path: str) -> None:
    """The client process: one SDK upload; prints the artifact and its own peak memory."""
    started = time.perf_counter()
    with MaasClient(endpoint, key) as client:
        artifact = client.upload_artifact(path)
    seconds = time.perf_counter() - started
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"sha256": artifact.sha256, "size": artifact.size_bytes, "seconds": seconds, "peak_mb": peak}))


def received(client: MaasClient, sha256: str) -> int:
    try:
        request = rpb.GetUploadStatusRequest(name=f"uploads/{sha256}")
        return client.registry.GetUploadStatus(request, **client.call_options()).received_bytes
    except grpc.RpcError as error:
        if error.code() == grpc.StatusCode.NOT_FOUND:
            return 0
        raise


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--client":
        client_main(*sys.argv[2:5])
        return
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size-mb", type=int, default=2048, help="artifact size")
    args = parse_args(parser, size_mb=24)
    size = args.size_mb << 20
    with tempfile.TemporaryDirectory(prefix="maas-upload-bench-") as tmp, local_stack() as stack:
        work = Path(tmp)
        artifact_file = work / "artifact.bin"
        sha256 = write_random(artifact_file, size)
        started = time.perf_counter()
        shutil.copyfile(artifact_file, work / "copy.bin")
        copy_seconds = time.perf_counter() - started
        (work / "copy.bin").unlink()
        key = tenant_key(stack)
        endpoint = stack.address("gateway")
        pids = {name: stack.processes[name].pid for name in ("gateway", "registry")}
        idle = {name: peak_rss_mb(pid) for name, pid in pids.items()}
        client = [sys.executable, "-m", "bench.upload", "--client", endpoint, key, str(artifact_file)]
        with MaasClient(endpoint, key) as watcher:
            first = subprocess.Popen(client, stdout=subprocess.PIPE)
            while (held := received(watcher, sha256)) < size // 2 and first.poll() is None:
                time.sleep(0.02)
            first.send_signal(signal.SIGKILL)
            first.wait()
            time.sleep(0.5)  # the registry notices the broken stream and keeps what it has
            kept = received(watcher, sha256)
            second = subprocess.run(client, capture_output=True, text=True, check=True)
        result = json.loads(second.stdout.strip().splitlines()[-1])
        peaks = {name: peak_rss_mb(pid) for name, pid in pids.items()}
    assert result["sha256"] == sha256 and result["size"] == size, result
    mb = size / (1 << 20)
    rest = (size - kept) / (1 << 20)
    print(f"upload of a {mb:.0f} MiB artifact through the gateway, client SIGKILLed at {held / size:.0%} sent")
    print(f"  registry held {kept / (1 << 20):.0f} MiB after the kill; the second run sent the other {rest:.0f} MiB")
    print(f"  sha256 after resume: {result['sha256'][:16]}... = the file's: {result['sha256'] == sha256}")
    speed = rest / result["seconds"]
    print(f"  second run: {result['seconds']:.1f} s, {speed:.0f} MiB/s (file copy: {mb / copy_seconds:.0f} MiB/s)")
    print(f"  peak RSS  client (second run) {result['peak_mb']:.0f} MiB")
    for name in pids:
        print(
            f"  peak RSS  {name:<8} {peaks[name]:.0f} MiB (idle {idle[name]:.0f} MiB, +{peaks[name] - idle[name]:.0f})"
        )


if __name__ == "__main__":
    main()
