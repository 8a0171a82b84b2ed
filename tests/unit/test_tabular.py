import numpy as np
import pytest

from services.common.errors import InvalidArgument
from services.common.tabular import inspect_csv, inspect_npz, load_csv_numeric


def write(tmp_path, content: bytes, name="data.csv"):
    path = tmp_path / name
    path.write_bytes(content)
    return path


def test_inspect_csv_infers_types_and_counts_rows(tmp_path):
    info = inspect_csv(write(tmp_path, b"a,b,c\n1,2.5,x\n3,4,y\n"))
    assert [(c.name, c.datatype) for c in info.columns] == [("a", "INT64"), ("b", "FP64"), ("c", "BYTES")]
    assert info.row_count == 2


def test_inspect_csv_names_the_line_with_the_wrong_field_count(tmp_path):
    with pytest.raises(InvalidArgument, match="CSV line 3: expected 2 fields, found 3"):
        inspect_csv(write(tmp_path, b"a,b\n1,2\n1,2,3\n"))


def test_inspect_csv_names_the_line_that_is_not_utf8(tmp_path):
    with pytest.raises(InvalidArgument, match="CSV line 2: not valid UTF-8"):
        inspect_csv(write(tmp_path, b"a,b\n\xff\xfe,2\n"))


def test_inspect_csv_refuses_unterminated_quotes_and_empty_files(tmp_path):
    with pytest.raises(InvalidArgument, match="CSV line"):
        inspect_csv(write(tmp_path, b'a,b\n"1,2\n'))
    with pytest.raises(InvalidArgument, match="header"):
        inspect_csv(write(tmp_path, b""))
    with pytest.raises(InvalidArgument, match="no data rows"):
        inspect_csv(write(tmp_path, b"a,b\n"))
    with pytest.raises(InvalidArgument, match="duplicate column"):
        inspect_csv(write(tmp_path, b"a,a\n1,2\n"))


def test_load_csv_numeric_names_missing_columns_and_bad_cells(tmp_path):
    path = write(tmp_path, b"a,label\n1,0\n2,1\n")
    columns = load_csv_numeric(path, ["a", "label"])
    np.testing.assert_array_equal(columns["a"], [1.0, 2.0])
    with pytest.raises(InvalidArgument, match="column 'target' not found"):
        load_csv_numeric(path, ["target"])
    with pytest.raises(InvalidArgument, match="CSV line 2: column 'a' holds 'x'"):
        load_csv_numeric(write(tmp_path, b"a\nx\n", "bad.csv"), ["a"])


def test_inspect_npz_describes_arrays_and_refuses_non_archives(tmp_path):
    path = tmp_path / "d.npz"
    np.savez(path, x=np.zeros((5, 3), np.float32), y=np.arange(5))
    info = inspect_npz(path)
    assert {(c.name, c.datatype, tuple(c.shape)) for c in info.columns} == {("x", "FP32", (5, 3)), ("y", "INT64", (5,))}
    assert info.row_count == 5
    with pytest.raises(InvalidArgument, match="NPZ"):
        inspect_npz(write(tmp_path, b"not a zip", "bad.npz"))


def test_inspect_npz_refuses_pickled_object_arrays(tmp_path):
    path = tmp_path / "objects.npz"
    np.savez(path, x=np.array([{"a": 1}], dtype=object))
    with pytest.raises(InvalidArgument, match="NPZ array 'x'"):
        inspect_npz(path)
