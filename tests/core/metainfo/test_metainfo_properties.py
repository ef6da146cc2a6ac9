"""Properties of valid torrents of every shape: what goes in comes out, and survives a re-save."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st
from metainfo_builder import Files, make_torrent

from bitswarm.core.layout import Layout
from bitswarm.core.metainfo import parse_torrent

names = st.text("abcXYZ019-_. é", min_size=1, max_size=6).filter(lambda n: n not in (".", ".."))
file_sets = st.dictionaries(
    st.lists(names, min_size=1, max_size=3).map(tuple),
    st.integers(0, 70_000).map(lambda size: bytes([size % 251]) * size),
    min_size=1,
    max_size=5,
).filter(
    # A path may not also be the folder of another path.
    lambda files: not any(a != b and b[: len(a)] == a for a in files for b in files)
)


@settings(max_examples=60, deadline=None)
@given(file_sets, st.sampled_from(["v1", "v2", "hybrid"]), st.sampled_from([16384, 32768]))
def test_files_in_are_files_out(
    chosen: dict[tuple[str, ...], bytes], version: str, piece_length: int
) -> None:
    # BEP 52 orders a file tree by its keys; give every version that order.
    files: Files = sorted(chosen.items(), key=lambda item: [p.encode() for p in item[0]])
    data = make_torrent(files, version=version, name="top", piece_length=piece_length)
    torrent = parse_torrent(data)
    real = [entry for entry in torrent.files if not entry.is_pad]
    # A v2 tree with one file at its root is a single-file torrent (BEP 52).
    lone = version == "v2" and len(files) == 1 and len(files[0][0]) == 1
    folder = () if lone else ("top",)
    assert [(e.path, e.length) for e in real] == [((*folder, *p), len(d)) for p, d in files]
    assert torrent.version == version
    assert torrent.total_size == sum(len(d) for _, d in files)
    assert torrent.to_bytes() == data
    layout = Layout.of(torrent)
    assert layout.piece_count == torrent.piece_count
    covered = sum(len(layout.file_pieces(i)) for i, e in enumerate(torrent.files) if not e.is_pad)
    if version != "v1":  # every non-empty file owns its own pieces
        assert covered == torrent.piece_count
        assert all(e.offset % piece_length == 0 for e in real)
    spans = [s for piece in range(layout.piece_count) for s in layout.piece_spans(piece)]
    assert sum(s.length for s in spans if not s.is_pad) == torrent.total_size
