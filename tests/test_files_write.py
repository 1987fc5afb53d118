"""Writing the files of a fresh folder: all written, all synced, none overwritten."""
import os

import pytest

from analysis.files import write_new_files


def test_files_are_written_and_synced(tmp_path, monkeypatch):
    synced = []
    real_fsync = os.fsync
    monkeypatch.setattr(os, "fsync", lambda fd: (synced.append(fd), real_fsync(fd)))
    files = [(tmp_path / f"{k}.csv", f"{k}".encode() * 100_000) for k in range(5)]
    write_new_files(files)
    assert [p.read_bytes() for p, _ in files] == [data for _, data in files]
    assert len(synced) == len(files)


def test_an_existing_file_is_never_overwritten(tmp_path):
    (tmp_path / "b.csv").write_bytes(b"old")
    before = set(os.listdir("/proc/self/fd")) if os.path.isdir("/proc/self/fd") else None
    with pytest.raises(FileExistsError):
        write_new_files([(tmp_path / "a.csv", b"new"), (tmp_path / "b.csv", b"new")])
    assert (tmp_path / "b.csv").read_bytes() == b"old"
    if before is not None:  # no descriptor left open
        assert set(os.listdir("/proc/self/fd")) == before
