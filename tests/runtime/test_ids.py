"""assembly_id must be the seed's algorithm exactly: sha256(md5s + template + user)."""

from __future__ import annotations

import hashlib

import pytest
from transflow_runtime import assembly_id, assembly_id_for_files, md5_of_bytes, md5_of_file

A = hashlib.md5(b"first file").hexdigest()
B = hashlib.md5(b"second file").hexdigest()
C = hashlib.md5(b"third file").hexdigest()


def expected(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def test_single_file_id_is_sha256_of_md5_template_user():
    assert assembly_id(A, "tpl_audio", "user_1") == expected(A + "tpl_audio" + "user_1")


def test_batch_id_sorts_md5s_before_joining():
    assert assembly_id([B, A, C], "tpl", "u") == expected("".join(sorted([A, B, C])) + "tpl" + "u")


def test_batch_id_does_not_depend_on_file_order():
    assert assembly_id([A, B, C], "t", "u") == assembly_id([C, A, B], "t", "u") == assembly_id((B, C, A), "t", "u")


def test_batch_of_one_equals_single_file():
    assert assembly_id([A], "t", "u") == assembly_id(A, "t", "u")


def test_different_user_or_template_changes_the_id():
    assert assembly_id(A, "t", "u1") != assembly_id(A, "t", "u2")
    assert assembly_id(A, "t1", "u") != assembly_id(A, "t2", "u")


def test_id_is_64_lowercase_hex():
    value = assembly_id(A, "t", "u")
    assert len(value) == 64 and value == value.lower() and int(value, 16) >= 0


def test_unicode_template_and_user_are_utf8_encoded_like_node():
    assert assembly_id(A, "tpl-é", "用户") == hashlib.sha256((A + "tpl-é" + "用户").encode("utf-8")).hexdigest()


def test_uppercase_md5_is_normalised_to_node_hex_digest_form():
    assert assembly_id(A.upper(), "t", "u") == assembly_id(A, "t", "u")


@pytest.mark.parametrize(
    ("md5s", "template", "user", "message"),
    [
        ("abc", "t", "u", "32 hex"),
        ("g" * 32, "t", "u", "32 hex"),
        (A + "0", "t", "u", "32 hex"),
        ([], "t", "u", "must not be empty"),
        ([A, "nope"], "t", "u", "md5 #1"),
        ([A, 5], "t", "u", "md5 #1"),
        (A, "", "u", "template_id"),
        (A, "t", "", "user_id"),
        (A, None, "u", "template_id"),
        (b"0" * 32, "t", "u", "not bytes"),
    ],
)
def test_invalid_input_raises_value_error_naming_the_problem(md5s, template, user, message):
    with pytest.raises(ValueError, match=message):
        assembly_id(md5s, template, user)


def test_md5_helpers_match_hashlib(tmp_path):
    data = b"x" * 3_000_000  # spans several read chunks
    path = tmp_path / "upload.bin"
    path.write_bytes(data)
    assert md5_of_bytes(data) == md5_of_file(path) == hashlib.md5(data).hexdigest()


def test_assembly_id_for_files_accepts_paths_and_bytes(tmp_path):
    one = tmp_path / "one.wav"
    one.write_bytes(b"first file")
    expected_id = expected("".join(sorted([A, B])) + "tpl" + "u")
    assert assembly_id_for_files([one, b"second file"], "tpl", "u") == expected_id
    assert assembly_id_for_files([str(one)], "tpl", "u") == assembly_id(A, "tpl", "u")
    with pytest.raises(ValueError, match="files must not be empty"):
        assembly_id_for_files([], "tpl", "u")
