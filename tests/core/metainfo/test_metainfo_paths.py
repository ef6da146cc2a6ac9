"""File names from a torrent never leave the download folder."""

from __future__ import annotations

import string
from pathlib import PurePosixPath

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bitswarm.core.metainfo import TorrentError, check_component, check_path, target_path
from bitswarm.core.metainfo.paths import unsafe_reason

UNSAFE = {
    "": "empty path component",
    ".": "would leave its folder",
    "..": "would leave its folder",
    "a/b": "path separator",
    "/etc": "path separator",
    "a\\b": "path separator",
    "..\\..\\x": "path separator",
    "nul\x00byte": "control character '\\x00'",
    "tab\there": "control character '\\t'",
    "C:": "Windows drive prefix",
    "c:evil": "Windows drive prefix",
    "CON": "reserved device name",
    "con.txt": "reserved device name",
    "Lpt9.tar.gz": "reserved device name",
    "AUX ": "reserved device name",
    "com1": "reserved device name",
}


@pytest.mark.parametrize(("component", "reason"), UNSAFE.items())
def test_unsafe_components_are_rejected(component: str, reason: str) -> None:
    with pytest.raises(TorrentError) as caught:
        check_component(component, "info.files[0].path[1]")
    assert caught.value.where == "info.files[0].path[1]"
    assert reason in caught.value.reason


@pytest.mark.parametrize(
    "component", ["a", "...", "..a", ".hidden", "COM10", "CONSOLE", "Episode 1: x", "日本語", "a b"]
)
def test_ordinary_names_pass(component: str) -> None:
    assert check_component(component, "x") == component


def test_check_path_names_the_component() -> None:
    assert check_path(["a", "b"], "p") == ("a", "b")
    with pytest.raises(TorrentError, match=r"torrent: p\[1\]: path component '\.\.'"):
        check_path(["a", "..", "b"], "p")
    with pytest.raises(TorrentError, match="empty path"):
        check_path([], "p")


def test_target_path_joins_under_the_root() -> None:
    assert target_path("/srv/dl", ("folder", "sub", "x.bin")) == PurePosixPath(
        "/srv/dl/folder/sub/x.bin"
    )
    with pytest.raises(TorrentError):
        target_path("/srv/dl", ("folder", "..", "..", "etc", "passwd"))
    with pytest.raises(TorrentError):
        target_path("/srv/dl", ("/etc",))


RESERVED = {"CON", "PRN", "AUX", "NUL"} | {f"{d}{n}" for d in ("COM", "LPT") for n in range(1, 10)}


def plainly_unsafe(component: str) -> bool:
    """The rules of the module docstring, written out one by one."""
    drive = len(component) >= 2 and component[0] in string.ascii_letters and component[1] == ":"
    return (
        component in ("", ".", "..")
        or "/" in component
        or "\\" in component
        or any(ord(char) < 32 for char in component)
        or drive
        or component.split(".", 1)[0].rstrip(" ").upper() in RESERVED
    )


@settings(deadline=None, max_examples=500)
@given(
    st.text(st.sampled_from("aAcCoOnNuUlLpPtTxX139.: /\\\x00\x1fé") | st.characters(), max_size=7)
)
def test_one_regex_applies_every_rule(component: str) -> None:
    assert (unsafe_reason(component) is not None) == plainly_unsafe(component)


@settings(deadline=None)
@given(st.lists(st.text(min_size=0, max_size=12), min_size=1, max_size=5))
def test_accepted_paths_stay_under_the_root(parts: list[str]) -> None:
    root = PurePosixPath("/srv/dl")
    if any(unsafe_reason(part) for part in parts):
        with pytest.raises(TorrentError):
            target_path(root, parts)
        return
    path = target_path(root, parts)
    assert path.parts[: len(root.parts)] == root.parts
    assert path.parts[len(root.parts) :] == tuple(parts)
