"""Finding the labelled examples of an unpacked image archive and of text files."""

import json

import pytest

from services.common.errors import InvalidArgument
from services.common.labelled import image_examples, image_root, profile_texts, text_examples


def touch(path, data=b"x"):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)


def test_a_wrapping_folder_is_skipped_but_a_lone_class_folder_is_a_class(tmp_path):
    touch(tmp_path / "a" / "photos" / "cat" / "1.png")
    touch(tmp_path / "a" / "photos" / "dog" / "2.jpg")
    touch(tmp_path / "a" / "__MACOSX" / "photos" / "._1.png")
    assert image_root(tmp_path / "a") == tmp_path / "a" / "photos"
    examples, invalid = image_examples(tmp_path / "a")
    assert [(p.name, label) for p, label in examples] == [("1.png", "cat"), ("2.jpg", "dog")] and invalid == []
    touch(tmp_path / "b" / "cat" / "1.png")
    assert image_root(tmp_path / "b") == tmp_path / "b"
    assert [label for _, label in image_examples(tmp_path / "b")[0]] == ["cat"]


def test_nested_files_belong_to_their_top_class_folder_and_hidden_ones_are_ignored(tmp_path):
    touch(tmp_path / "cat" / "indoor" / "1.png")
    touch(tmp_path / "cat" / ".hidden" / "2.png")
    touch(tmp_path / "dog" / ".DS_Store")
    touch(tmp_path / "notes.txt")
    examples, invalid = image_examples(tmp_path)
    assert [(p.name, label) for p, label in examples] == [("1.png", "cat")]
    assert invalid == [("notes.txt", "not in a class folder")]


def test_a_label_csv_must_name_its_columns_and_cannot_point_outside(tmp_path):
    touch(tmp_path / "x.png")
    touch(tmp_path / "labels.csv", b"file,label\nx.png,a\n../../etc/passwd,b\n")
    examples, invalid = image_examples(tmp_path)
    assert [label for _, label in examples] == ["a"]
    assert invalid == [("labels.csv line 3", "file '../../etc/passwd' not found in the archive")]
    touch(tmp_path / "labels.csv", b"name,kind\nx.png,a\n")
    with pytest.raises(InvalidArgument, match="needs a file column"):
        image_examples(tmp_path)


def test_json_lines_take_string_or_integer_labels_and_name_bad_lines(tmp_path):
    lines = [{"text": "hello", "label": 1}, {"text": "bye", "label": True}, {"text": 3, "label": "a"}, {"label": "a"}]
    (tmp_path / "t.jsonl").write_text("\n".join(json.dumps(line) for line in lines) + "\n\nnot json\n")
    found = list(text_examples(tmp_path / "t.jsonl", True, "text", "label"))
    assert found[0] == ("line 1", "hello", "1", "")
    assert [reason for *_, reason in found[1:]][:3] == [
        "no string or integer 'label'",
        "no string 'text'",
        "no string 'text'",
    ]
    assert found[-1][0] == "line 6" and found[-1][3].startswith("not valid JSON")
    profile = profile_texts(tmp_path / "t.jsonl", True, "text", "label")
    assert profile.classes == {"1": 1} and profile.invalid_count == 4
