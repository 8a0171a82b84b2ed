"""Registry benchmark, in one run through the gateway of a local stack:

1. list latency of page 1 and page 50 of 5,000 versions (100 per page; the last page when fewer): keyset pagination
   should keep the ratio at most 1.5;
2. artifact upload and download throughput for a 200 MB file, next to a plain file copy on
   the same disk (target: at least 100 MB/s).

Usage (from the repository root): python -m bench.registry [--versions 5000] [--megabytes 200] [--smoke]
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from bench._stack import latency_ms, local_stack, parse_args, tenant_key
from maas.client import MaasClient
from maas.registry.v1 import registry_pb2 as pb

CHUNK = 1024 * 1024


def bench_pagination(client: MaasClient, versions: int, per_page: int) -> dict[str, float]:
    """p50 latency of the first page and of the last (at most the 50th) of `versions` versions."""
    artifact = upload(client, b"tiny-model")
    request = pb.CreateModelVersionRequest(parent="models/bench", model_version=pb.ModelVersion(artifact=artifact.name))
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda _: client.registry.CreateModelVersion(request, **client.call_options()), range(versions)))
    last = max(1, min(50, versions // per_page))
    tokens = [""]
    for _ in range(last - 1):
        page = client.registry.ListModelVersions(
            pb.ListModelVersionsRequest(parent="models/bench", page_size=per_page, page_token=tokens[-1]),
            **client.call_options(),
        )
        tokens.append(page.next_page_token)

    def page(number: int):
        return lambda: client.registry.ListModelVersions(
            pb.ListModelVersionsRequest(parent="models/bench", page_size=per_page, page_token=tokens[number - 1]),
            **client.call_options(),
        )

    page(1)(), page(last)()  # warm up
    first, final = latency_ms(page(1), 50), latency_ms(page(last), 50)
    return {
        "last_page": last,
        "page1_p50_ms": first["p50"],
        "last_p50_ms": final["p50"],
        "ratio": final["p50"] / first["p50"],
    }


def upload(client: MaasClient, data: bytes, progress=None):
    def messages():
        yield pb.UploadArtifactRequest(header=pb.UploadArtifactRequest.Header(size_bytes=len(data)))
        view = memoryview(data)
        for offset in range(0, len(data), CHUNK):
            yield pb.UploadArtifactRequest(chunk=bytes(view[offset : offset + CHUNK]))

    return client.registry.UploadArtifact(messages(), **client.call_options(600))


def bench_throughput(client: MaasClient, megabytes: int, workdir: Path) -> dict[str, float]:
    data = os.urandom(megabytes * CHUNK)
    source = workdir / "source.bin"
    source.write_bytes(data)
    started = time.perf_counter()
    shutil.copyfile(source, workdir / "copy.bin")
    os.sync()
    copy_seconds = time.perf_counter() - started

    started = time.perf_counter()
    artifact = upload(client, data)
    upload_seconds = time.perf_counter() - started
    assert artifact.sha256 == hashlib.sha256(data).hexdigest()

    started = time.perf_counter()
    digest = hashlib.sha256()
    for response in client.registry.DownloadArtifact(
        pb.DownloadArtifactRequest(name=artifact.name), **client.call_options(600)
    ):
        digest.update(response.chunk)
    download_seconds = time.perf_counter() - started
    assert digest.hexdigest() == artifact.sha256, "download is not byte-identical"
    return {
        "file_copy_mb_s": megabytes / copy_seconds,
        "upload_mb_s": megabytes / upload_seconds,
        "download_mb_s": megabytes / download_seconds,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--versions", type=int, default=5000)
    parser.add_argument("--per-page", type=int, default=100)
    parser.add_argument("--megabytes", type=int, default=200)
    args = parse_args(parser, versions=120, per_page=10, megabytes=4)
    with (
        local_stack() as stack,
        tempfile.TemporaryDirectory() as tmp,
        MaasClient(stack.address("gateway"), tenant_key(stack)) as client,
    ):
        pages = bench_pagination(client, args.versions, args.per_page)
        last = pages["last_page"]
        print(f"list versions ({args.versions} versions, {args.per_page} per page, through the gateway):")
        print(f"  page 1  p50 {pages['page1_p50_ms']:.2f} ms")
        print(f"  page {last} p50 {pages['last_p50_ms']:.2f} ms")
        print(f"  ratio page{last}/page1 {pages['ratio']:.2f}  (target <= 1.5)")
        rates = bench_throughput(client, args.megabytes, Path(tmp))
        print(f"artifact of {args.megabytes} MB:")
        print(f"  plain file copy       {rates['file_copy_mb_s']:8.1f} MB/s")
        print(f"  upload via gateway    {rates['upload_mb_s']:8.1f} MB/s  (target >= 100)")
        print(f"  download via gateway  {rates['download_mb_s']:8.1f} MB/s  (target >= 100)")


if __name__ == "__main__":
    main()
