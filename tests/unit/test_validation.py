import pytest

from services.common.errors import InvalidArgument
from services.common.validation import (
    check_id,
    decode_page_token,
    encode_page_token,
    is_number,
    page_size,
    parse_dataset_name,
    parse_filter,
    parse_name,
    parse_order,
)


@pytest.mark.parametrize("value", ["digits", "a", "model-2", "x" * 63])
def test_check_id_accepts_valid_ids(value):
    assert check_id(value, "model_id") == value


@pytest.mark.parametrize(
    "value", ["", "Digits", "2digits", "../etc", "a/b", "a\x00b", "tab\tname", "x" * 64, "trailing-", "a_b", "ü"]
)
def test_check_id_refuses_bad_ids_naming_the_field(value):
    with pytest.raises(InvalidArgument, match="model_id"):
        check_id(value, "model_id")


def test_parse_name_splits_ids_and_names_the_expected_shape():
    assert parse_name("models/m/versions/3", ("models", None, "versions", None)) == ["m", "3"]
    with pytest.raises(InvalidArgument, match=r"models/\{id\}/versions/\{id\}"):
        parse_name("models/m/aliases/x", ("models", None, "versions", None))
    with pytest.raises(InvalidArgument):
        parse_name("models/m/versions/3/extra", ("models", None, "versions", None))


def test_page_tokens_round_trip_and_garbage_is_invalid_argument():
    assert decode_page_token(encode_page_token(["a", 3])) == ["a", 3]
    assert decode_page_token("") is None
    with pytest.raises(InvalidArgument, match="page_token"):
        decode_page_token("not-a-token!!")


def test_page_size_defaults_caps_and_refuses_negative():
    assert page_size(0) == 50
    assert page_size(5000) == 1000
    with pytest.raises(InvalidArgument):
        page_size(-1)


def test_parse_filter_terms_and_unknown_keys():
    assert parse_filter("labels.team=ml AND labels.env=prod", ("labels.",)) == [
        ("labels.team", "ml"),
        ("labels.env", "prod"),
    ]
    with pytest.raises(InvalidArgument, match="unknown key 'owner'"):
        parse_filter("owner=me", ("labels.",))
    with pytest.raises(InvalidArgument, match="key=value"):
        parse_filter("labels.team", ("labels.",))


def test_parse_order_accepts_field_asc_desc_only():
    assert parse_order("", "name") is False
    assert parse_order("name desc", "name") is True
    assert parse_order("name asc", "name") is False
    for bad in ("create_time", "name sideways", "name desc extra"):
        with pytest.raises(InvalidArgument, match="order_by"):
            parse_order(bad, "name")


def test_parse_dataset_name_latest_or_positive_version():
    assert parse_dataset_name("datasets/digits") == ("digits", None)
    assert parse_dataset_name("datasets/digits/versions/3") == ("digits", 3)
    for bad in ("datasets/digits/versions/0", "datasets/digits/versions/x", "datasets/../etc", "models/m"):
        with pytest.raises(InvalidArgument, match=r"dataset\.dataset"):
            parse_dataset_name(bad, "dataset.dataset")


def test_is_number_takes_ascii_digits_only():
    assert is_number("42") and is_number("007")
    for bad in ("", "-1", "³", "٣", "4.2", " 4", "x"):
        assert not is_number(bad), bad
    with pytest.raises(InvalidArgument, match="positive number"):
        parse_dataset_name("datasets/digits/versions/³")
