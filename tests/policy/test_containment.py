"""A members file is read only from inside the policy's folder, as a bounded regular file; its lines are never shown."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from audit.errors import PolicyError
from audit.policy import load_policy
from audit.policy.files import MAX_MEMBERS_BYTES, UnreadableFile, contained_path, read_regular_file
from tests.hostile.policies import callpro_with_members_file

MEMBERS = "ad.viseur@contoso.com\nbea.buiten@contoso.com\n"


def _policy(folder: Path, name: str) -> Path:
    path = folder / "policy.yaml"
    path.write_text(callpro_with_members_file(name), encoding="utf-8")
    return path


def test_members_file_in_a_subfolder_and_through_an_inner_symlink_is_read(tmp_path: Path) -> None:
    (tmp_path / "lists").mkdir()
    (tmp_path / "lists" / "sales.txt").write_text(MEMBERS, encoding="utf-8")
    (tmp_path / "current.txt").symlink_to(tmp_path / "lists" / "sales.txt")
    for name in ("lists/sales.txt", "current.txt", "lists/../lists/sales.txt"):
        policy = load_policy(_policy(tmp_path, name))
        assert policy.expected_members.required == {"ad.viseur@contoso.com", "bea.buiten@contoso.com"}


@pytest.mark.parametrize("name", ["/proc/self/environ", "~/members.txt", "../members.txt", "lists/../../members.txt"])
def test_paths_out_of_the_folder_are_refused_before_reading(tmp_path: Path, name: str) -> None:
    folder = tmp_path / "policies"
    folder.mkdir()
    (tmp_path / "members.txt").write_text(MEMBERS, encoding="utf-8")
    with pytest.raises(PolicyError) as info:
        load_policy(_policy(folder, name))
    assert info.value.path == str(folder / "policy.yaml")
    assert "relative to the policy's folder" in info.value.reason or "leads out" in info.value.reason


def test_symlink_loop_is_refused(tmp_path: Path) -> None:
    (tmp_path / "a.txt").symlink_to(tmp_path / "b.txt")
    (tmp_path / "b.txt").symlink_to(tmp_path / "a.txt")
    with pytest.raises(PolicyError, match=r"members file 'a\.txt' cannot be resolved"):
        load_policy(_policy(tmp_path, "a.txt"))


def test_fifo_is_refused_without_blocking(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "pipe")
    with pytest.raises(UnreadableFile, match=r"not a regular file \(a FIFO\)"):
        read_regular_file(tmp_path / "pipe", 10)  # would wait for a writer forever without O_NONBLOCK


def test_read_stops_one_byte_past_the_limit_whatever_size_says(tmp_path: Path) -> None:
    big = tmp_path / "big.txt"
    big.write_bytes(b"a" * (MAX_MEMBERS_BYTES + 10))
    with pytest.raises(UnreadableFile, match=f"the limit is {MAX_MEMBERS_BYTES:,}"):
        read_regular_file(big, MAX_MEMBERS_BYTES)
    # /proc files say size 0 and are read in full otherwise: the bound holds on what is read, not on st_size.
    with pytest.raises(UnreadableFile, match="larger than the limit of 16 bytes"):
        read_regular_file(Path("/proc/self/status"), 16)


def test_contained_path_resolves_inside(tmp_path: Path) -> None:
    assert contained_path(tmp_path, "x/../y.txt") == tmp_path.resolve() / "y.txt"
    with pytest.raises(UnreadableFile):
        contained_path(tmp_path, "")


def test_a_line_that_is_not_an_address_is_named_by_number_only(tmp_path: Path) -> None:
    token = "ghp_0123456789abcdefSECRET"
    (tmp_path / "m.txt").write_text(f"{MEMBERS}https://x:{token}@git.example.com/r.git\n", encoding="utf-8")
    with pytest.raises(PolicyError) as info:
        load_policy(_policy(tmp_path, "m.txt"))
    assert (info.value.path, info.value.line, info.value.column) == (str(tmp_path / "m.txt"), 3, 1)
    assert token not in str(info.value)
    assert "git.example" not in str(info.value)
