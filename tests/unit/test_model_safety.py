"""Which ops a user's SavedModel may not use (taken from TensorFlow's op registry) and how an
archive is turned into a model directory, with its refusals."""

import io
import tarfile
import zipfile

import pytest

from services.inference import safety
from services.inference.artifact import InvalidArtifact, kind_of, prepare


def test_the_denied_ops_come_from_the_op_registry_and_cover_files_python_and_network():
    denied = safety.denied_ops()
    for op in ["ReadFile", "WriteFile", "MatchingFiles", "PyFunc", "EagerPyFunc", "SaveV2", "RestoreV2",
               "TFRecordDataset", "WholeFileReaderV2", "PrintV2", "CollectiveReduceV2", "ImmutableConst",
               "InitializeTableFromTextFileV2", "CreateSummaryFileWriter", "DebugIdentityV2"]:  # fmt: skip
        assert op in denied, op
    assert set(denied) <= safety.registered_ops()
    # Every pattern still names ops this TensorFlow has (a rename upstream would show here).
    assert set(denied.values()) == set(safety.DENIED_PATTERNS)
    for op in ["MatMul", "Conv2D", "StringLower", "StringSplitV2", "LookupTableFindV2", "StatefulPartitionedCall"]:
        assert op not in denied, op


def test_a_savedmodel_that_writes_a_file_is_refused_before_loading(tmp_path):
    import tensorflow as tf

    class Writer(tf.Module):
        @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="x")])
        def serve(self, x):
            tf.io.write_file(str(tmp_path / "dropped"), x[0])
            return {"y": x}

    module = Writer()
    tf.saved_model.save(module, str(tmp_path / "model"), signatures={"serving_default": module.serve})
    with pytest.raises(safety.UnsafeModel, match="op WriteFile is not allowed"):
        safety.check_saved_model(tmp_path / "model")
    assert not (tmp_path / "dropped").exists()


def _tar(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def test_archives_are_recognised_by_content_not_by_name(tmp_path):
    (tmp_path / "a.keras").write_bytes(_tar({"saved_model.pb": b""}))
    assert kind_of(tmp_path / "a.keras") == "tar"
    with zipfile.ZipFile(tmp_path / "model.zip", "w") as zipped:
        zipped.writestr("config.json", "{}")
        zipped.writestr("metadata.json", "{}")
    assert kind_of(tmp_path / "model.zip") == "keras"
    (tmp_path / "junk").write_bytes(b"\x00junk" * 100)
    with pytest.raises(InvalidArtifact, match="not a SavedModel or Keras file"):
        kind_of(tmp_path / "junk")


def test_an_archive_cannot_write_outside_its_directory(tmp_path):
    (tmp_path / "evil.tar").write_bytes(_tar({"../../escaped": b"x", "saved_model.pb": b""}))
    with pytest.raises(InvalidArtifact):
        prepare(tmp_path / "evil.tar", tmp_path / "out" / "model")
    assert not (tmp_path / "escaped").exists() and not (tmp_path.parent / "escaped").exists()
    with zipfile.ZipFile(tmp_path / "evil.zip", "w") as zipped:
        zipped.writestr("../escaped", "x")
    with pytest.raises(InvalidArtifact, match="leaves the archive"):
        prepare(tmp_path / "evil.zip", tmp_path / "out2")


def test_an_archive_that_expands_far_beyond_its_size_is_refused(tmp_path):
    with zipfile.ZipFile(tmp_path / "bomb.zip", "w", compression=zipfile.ZIP_DEFLATED) as zipped:
        zipped.writestr("saved_model.pb", b"\x00" * (200 << 20))
    with pytest.raises(InvalidArtifact, match="expands to too much"):
        prepare(tmp_path / "bomb.zip", tmp_path / "out")


def test_an_archive_without_a_model_says_what_it_lacks(tmp_path):
    (tmp_path / "empty.tar").write_bytes(_tar({"readme.txt": b"hello"}))
    with pytest.raises(InvalidArtifact, match=r"no saved_model\.pb"):
        prepare(tmp_path / "empty.tar", tmp_path / "out")
