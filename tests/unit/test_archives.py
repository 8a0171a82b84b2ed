"""Archive extraction refuses what could escape the destination, with and without tarfile's filters."""

import io
import tarfile

import pytest

from services.common.archives import extract_tar


def _tar(*members: tuple[tarfile.TarInfo, bytes]) -> tarfile.TarFile:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for info, data in members:
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data) if data else None)
    buffer.seek(0)
    return tarfile.open(fileobj=buffer)


def _file(name: str, data: bytes = b"x") -> tuple[tarfile.TarInfo, bytes]:
    return tarfile.TarInfo(name), data


def _link(name: str, target: str) -> tuple[tarfile.TarInfo, bytes]:
    info = tarfile.TarInfo(name)
    info.type, info.linkname = tarfile.SYMTYPE, target
    return info, b""


@pytest.fixture(params=["filters", "no filters"])
def python(request, monkeypatch):
    """Each test runs as on a Python with tarfile's filters and as on one without (3.11.2)."""
    if request.param == "no filters":
        monkeypatch.delattr(tarfile, "data_filter", raising=False)
    elif not hasattr(tarfile, "data_filter"):
        pytest.skip("this Python's tarfile has no extraction filters (3.11 before 3.11.4)")
    return request.param


def test_plain_files_and_directories_are_extracted(tmp_path, python):
    extract_tar(_tar(_file("model/saved_model.pb", b"graph"), _file("model/variables/v", b"w")), tmp_path)
    assert (tmp_path / "model" / "saved_model.pb").read_bytes() == b"graph"
    assert (tmp_path / "model" / "variables" / "v").read_bytes() == b"w"


@pytest.mark.parametrize(
    "member",
    [_file("../escaped"), _file("a/../../escaped"), _link("link", "/etc/passwd")],
    ids=["dotdot", "nested-dotdot", "symlink-out"],
)
def test_members_that_leave_the_destination_are_refused(tmp_path, python, member):
    destination = tmp_path / "out"
    destination.mkdir()
    with pytest.raises(tarfile.TarError):
        extract_tar(_tar(member), destination)
    assert not (tmp_path / "escaped").exists()
    assert not (destination / "link").exists()


def test_an_absolute_path_never_lands_outside(tmp_path, python):
    """The data filter strips the leading slash (the file lands inside); without filters it is refused."""
    target = tmp_path / "elsewhere" / "escaped"
    try:
        extract_tar(_tar(_file(str(target))), tmp_path / "out")
    except tarfile.TarError:
        assert python == "no filters"
    assert not target.exists()
