"""assembly_id must be the seed's algorithm exactly: sha256(md5s + template + user)."""

from __future__ import annotations

import contextlib
import hashlib
import os

import pytest
from transflow_runtime import assembly_id, assembly_id_for_files, md5_of_bytes, md5_of_file

A = hashlib.md5(b"first file").hexdigest()
B = hashlib.md5(b"second file").hexdigest()
C = hashlib.md5(b"third file").hexdigest()

MD5 = "d41d8cd98f00b204e9800998ecf8427e"  # md5 of the empty file


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


def test_md5s_are_hashed_exactly_as_given_like_the_seed():
    assert assembly_id(A.upper(), "t", "u") == expected(A.upper() + "t" + "u")
    assert assembly_id([B, A.upper()], "t", "u") == expected("".join(sorted([B, A.upper()])) + "t" + "u")


@pytest.mark.parametrize(
    ("md5s", "template", "user", "message"),
    [
        ("abc", "t", "u", "32 hex"),
        (A + "\n", "t", "u", "32 hex"),
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


def test_assembly_id_for_files_takes_one_file_as_bytes_or_path(tmp_path):
    one = tmp_path / "one.wav"
    one.write_bytes(b"first file")
    assert assembly_id_for_files(b"first file", "tpl", "u") == assembly_id(A, "tpl", "u")
    assert assembly_id_for_files(one, "tpl", "u") == assembly_id(A, "tpl", "u")
    assert assembly_id_for_files(str(one), "tpl", "u") == assembly_id(A, "tpl", "u")


def test_md5_of_file_refuses_a_file_descriptor_number():
    with pytest.raises(ValueError, match="path must be"):
        md5_of_file(3)


def test_assembly_id_rejects_an_md5_with_a_trailing_newline():
    with pytest.raises(ValueError, match="md5 value must be 32 hex characters"):
        assembly_id(MD5 + "\n", "tpl", "alice")


def test_assembly_id_hashes_an_uppercase_md5_as_given_like_the_seed():
    """The seed hashes whatever md5 string it was given; uppercase is not normalised."""
    upper = MD5.upper()
    assert assembly_id(upper, "tpl", "alice") == hashlib.sha256((upper + "tpl" + "alice").encode()).hexdigest()
    assert assembly_id(upper, "tpl", "alice") != assembly_id(MD5, "tpl", "alice")


def test_assembly_id_for_files_takes_bytes_as_content_and_leaves_file_descriptors_alone():
    """Bytes are one file's content, never a descriptor number to read (or close)."""
    read_end, write_end = os.pipe()
    os.write(write_end, b"unrelated data")
    os.close(write_end)
    data = bytes([read_end])  # one file's content that happens to be a live fd number
    try:
        result = assembly_id_for_files(data, "tpl", "alice")
        os.fstat(read_end)  # raises if assembly_id_for_files closed our descriptor
        assert result == assembly_id(md5_of_bytes(data), "tpl", "alice")
        assert os.read(read_end, 100) == b"unrelated data", "the descriptor was read from"
    finally:
        with contextlib.suppress(OSError):
            os.close(read_end)
