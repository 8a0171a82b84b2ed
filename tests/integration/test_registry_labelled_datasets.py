"""Image and text datasets on a real registry: what an upload records, what it leaves out, and
what it refuses (archives that leave their directory or expand too far, nothing usable)."""

import io
import json
import tarfile
import zipfile

import grpc
import numpy as np
import pytest
from PIL import Image

from maas.demo import digits_png_zip, topic_texts
from maas.registry.v1 import registry_pb2 as pb
from maas.registry.v1 import registry_pb2_grpc
from services.registry.config import RegistrySettings
from services.registry.server import build_server
from tests.conftest import running, service_settings, tenant_md

Format, Kind = pb.DatasetFormat, pb.DatasetKind
CHUNK = 64 << 10


@pytest.fixture
def stub(data_dir, database_url, artifact_store):
    settings = service_settings(
        RegistrySettings, data_dir, max_artifact_bytes=5_000_000, database_url=database_url, **artifact_store
    )
    with running(build_server, settings) as server, grpc.insecure_channel(server.address) as channel:
        yield registry_pb2_grpc.RegistryServiceStub(channel)


def upload(stub, data: bytes, fmt, dataset_id="d", **header):
    def messages():
        yield pb.CreateDatasetRequest(
            header=pb.CreateDatasetRequest.Header(dataset_id=dataset_id, format=fmt, **header)
        )
        for i in range(0, len(data), CHUNK):
            yield pb.CreateDatasetRequest(chunk=data[i : i + CHUNK])

    return stub.CreateDataset(messages(), metadata=tenant_md("acme"))


def png(side: int, mode: str = "L") -> bytes:
    buffer = io.BytesIO()
    Image.new(mode, (side, side + 1), 128).save(buffer, format="PNG")
    return buffer.getvalue()


def test_image_archive_records_classes_sizes_samples_and_names_bad_files(stub):
    archive, _, _ = digits_png_zip(classes=(0, 1, 2))
    buffer = io.BytesIO(archive)
    with zipfile.ZipFile(buffer, "a") as zipped:
        zipped.writestr("digits/1/notes.png", b"this is not an image")
        zipped.writestr("digits/2/empty.jpg", b"")
        zipped.writestr("digits/README.txt", b"loose file")
    dataset = upload(stub, buffer.getvalue(), Format.DATASET_FORMAT_ARCHIVE)
    assert dataset.kind == Kind.DATASET_KIND_IMAGE
    counts = {c.name: c.count for c in dataset.classes}
    assert set(counts) == {"0", "1", "2"} and dataset.row_count == sum(counts.values()) > 300
    assert (dataset.image_stats.min_width, dataset.image_stats.max_height, dataset.image_stats.channels) == (32, 32, 1)
    assert dataset.invalid_count == 3
    reasons = {e.name: e.reason for e in dataset.invalid_examples}
    assert reasons["digits/1/notes.png"] == "not an image"
    assert reasons["digits/README.txt"] == "not in a class folder"
    assert "digits/2/empty.jpg" in reasons
    assert dataset.samples and all(Image.open(io.BytesIO(s.thumbnail_png)).format == "PNG" for s in dataset.samples)
    assert {s.label for s in dataset.samples} == {"0", "1", "2"}
    again = stub.GetDataset(pb.GetDatasetRequest(name=dataset.name), metadata=tenant_md("acme"))
    assert again == dataset


def test_label_csv_inside_a_tar_names_files_and_labels(stub):
    buffer = io.BytesIO()
    rows = "file,label\nimg/a.png,cat\nimg/b.png,dog\nimg/missing.png,dog\nimg/c.png,\n"
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for name, data in [("labels.csv", rows.encode()), ("img/a.png", png(10, "RGB")), ("img/b.png", png(20, "RGB"))]:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
        tar.addfile(tarfile.TarInfo("img/c.png"), io.BytesIO(b""))
    dataset = upload(stub, buffer.getvalue(), Format.DATASET_FORMAT_ARCHIVE)
    assert {c.name: c.count for c in dataset.classes} == {"cat": 1, "dog": 1}
    assert (dataset.image_stats.min_width, dataset.image_stats.max_width, dataset.image_stats.channels) == (10, 20, 3)
    assert [e.name for e in dataset.invalid_examples] == ["labels.csv line 4", "labels.csv line 5"]


def test_archives_that_escape_expand_or_hold_nothing_usable_are_refused(stub):
    escaping = io.BytesIO()
    with zipfile.ZipFile(escaping, "w") as zipped:
        zipped.writestr("../evil/x.png", png(8))
    bomb = io.BytesIO()
    with zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as zipped:
        zipped.writestr("a/zeros.png", bytes(200 << 20))
    encrypted = bytearray(escaping.getvalue().replace(b"../evil/x.png", b"aa/evil/x.png"))
    for signature, flags_at in ((b"PK\x03\x04", 6), (b"PK\x01\x02", 8)):  # the "encrypted" flag bit
        encrypted[encrypted.find(signature) + flags_at] |= 1
    useless = io.BytesIO()
    with zipfile.ZipFile(useless, "w") as zipped:
        zipped.writestr("a/x.png", b"no image")
    for data, message in [
        (escaping.getvalue(), "leaves the archive"),
        (bomb.getvalue(), "expands to too much"),
        (bytes(encrypted), "is encrypted"),
        (useless.getvalue(), "no usable images: 1 left out (a/x.png: not an image)"),
        (b"not an archive", "not a readable zip or tar"),
    ]:
        with pytest.raises(grpc.RpcError) as error:
            upload(stub, data, Format.DATASET_FORMAT_ARCHIVE)
        assert error.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert message in error.value.details()


def test_text_csv_and_jsonl_record_classes_lengths_and_bad_rows(stub):
    texts, labels = topic_texts(200)
    rows = ["body,topic"] + [f'"{t}",{label}' for t, label in zip(texts, labels)] + ['"  ",sport', '"no label",']
    dataset = upload(
        stub,
        "\n".join(rows).encode(),
        Format.DATASET_FORMAT_CSV,
        kind=Kind.DATASET_KIND_TEXT,
        text_column="body",
        label_column="topic",
    )
    assert dataset.kind == Kind.DATASET_KIND_TEXT and (dataset.text_column, dataset.label_column) == ("body", "topic")
    assert {c.name: c.count for c in dataset.classes} == {t: labels.count(t) for t in set(labels)}
    assert dataset.text_stats.min_chars == min(map(len, texts)) and dataset.text_stats.max_chars == max(map(len, texts))
    assert dataset.text_stats.mean_chars == pytest.approx(np.mean([len(t) for t in texts]))
    assert [(e.name, e.reason) for e in dataset.invalid_examples] == [
        ("line 202", "empty text"),
        ("line 203", "empty label"),
    ]
    assert all(s.text in texts for s in dataset.samples)

    lines = [json.dumps({"text": t, "label": i % 2}) for i, t in enumerate(texts[:10])] + ["[1]", "{bad"]
    jsonl = upload(stub, "\n".join(lines).encode(), Format.DATASET_FORMAT_JSONL, dataset_id="j")
    assert {c.name: c.count for c in jsonl.classes} == {"0": 5, "1": 5} and jsonl.invalid_count == 2


def test_text_dataset_errors_are_invalid_argument(stub):
    for data, header, message in [
        (b"text,label\nhi,a\n", {"kind": Kind.DATASET_KIND_TEXT, "text_column": "body"}, "no column 'body'"),
        (b"text,label\n ,a\n", {"kind": Kind.DATASET_KIND_TEXT}, "no usable texts: 1 left out (line 2: empty text)"),
        (b"a,b\n1,2\n", {"kind": Kind.DATASET_KIND_IMAGE}, "header.kind"),
        (b"a,b\n1,2\n", {"text_column": "a"}, "only for text datasets"),
    ]:
        with pytest.raises(grpc.RpcError) as error:
            upload(stub, data, Format.DATASET_FORMAT_CSV, **header)
        assert error.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert message in error.value.details()
    tabular = upload(stub, b"a,b\n1,2\n", Format.DATASET_FORMAT_CSV)
    assert tabular.kind == Kind.DATASET_KIND_TABULAR and not tabular.classes
