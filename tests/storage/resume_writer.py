"""A downloader stand-in for the ``kill -9`` test: writes pieces, checks them, saves resume data.

Run as ``python resume_writer.py TORRENT SEED_ROOT DOWNLOAD_ROOT STATE_DIR``. It copies
the pieces from the seed in order, damaging every fifth one, checks each with
``hash_piece``, prints ``<piece> good`` or ``<piece> bad``, and every third
piece flushes the store and saves resume data, printing ``saved``. After the
last piece it waits to be killed.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from bitswarm.core.metainfo import parse_torrent
from bitswarm.core.swarm.bitfield import Bitfield
from bitswarm.storage.piece_store import PieceStore
from bitswarm.storage.resume import save_resume, snapshot

BLOCK = 16 * 1024


def main(torrent_file: str, seed_root: str, download_root: str, state_dir: str) -> None:
    torrent = parse_torrent(Path(torrent_file).read_bytes())
    seed = PieceStore(torrent, seed_root)
    store = PieceStore(torrent, download_root)
    have = Bitfield(torrent.piece_count)
    for piece in range(torrent.piece_count):
        data = bytearray(seed.read_piece(piece))
        if piece % 5 == 4:
            data[len(data) // 2] ^= 0xFF
        for begin in range(0, len(data), BLOCK):
            store.write_block(piece, begin, data[begin : begin + BLOCK])
            time.sleep(0.002)
        good = store.hash_piece(piece)
        if good:
            have.set(piece)
        print(piece, "good" if good else "bad", flush=True)
        if piece % 3 == 2:
            store.flush()
            save_resume(state_dir, snapshot(torrent, download_root, have))
            print("saved", flush=True)
    time.sleep(60)


if __name__ == "__main__":
    main(*sys.argv[1:5])
