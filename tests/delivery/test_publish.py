from __future__ import annotations

import json
import stat

import polars as pl
import pytest

from coupongen.delivery import publish
from coupongen.delivery.publish import (
    MANIFEST,
    SUCCESS_MARKER,
    is_published,
    publish_folder,
    sha256_file,
    write_files,
)
from coupongen.safecsv import neutralize_formulas, write_csv


def write_one(text: str):
    def write(folder):
        (folder / "coupons.csv").write_text(text)
        return {"layout_version": "1.0", "rows": {"coupons.csv": text.count("\n")}}

    return write


def test_publication_has_manifest_with_hashes_and_success_marker_last(tmp_path):
    dest = tmp_path / "pos"
    manifest = publish_folder(dest, write_one("a\n1\n"))
    assert is_published(dest)
    on_disk = json.loads((dest / MANIFEST).read_text())
    assert on_disk == manifest
    assert manifest["files"]["coupons.csv"]["sha256"] == sha256_file(dest / "coupons.csv")
    assert manifest["layout_version"] == "1.0"
    assert stat.S_IMODE((dest / "coupons.csv").stat().st_mode) == 0o600
    assert sorted(p.name for p in tmp_path.iterdir()) == ["pos"]


def test_interrupted_export_keeps_the_previous_complete_publication(tmp_path):
    dest = tmp_path / "pos"
    publish_folder(dest, write_one("old\n"))

    def crash(folder):
        (folder / "coupons.csv").write_text("half a fi")
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        publish_folder(dest, crash)
    assert is_published(dest)
    assert (dest / "coupons.csv").read_text() == "old\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["pos"]


def test_interrupted_first_export_leaves_nothing(tmp_path):
    def crash(folder):
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError):
        publish_folder(tmp_path / "pos", crash)
    assert not (tmp_path / "pos").exists()
    assert list(tmp_path.iterdir()) == []


def test_republishing_replaces_the_folder_whole(tmp_path):
    dest = tmp_path / "pos"
    publish_folder(dest, lambda f: (f / "a.csv").write_text("1\n") and {})
    publish_folder(dest, lambda f: (f / "b.csv").write_text("2\n") and {})
    assert sorted(p.name for p in dest.iterdir()) == sorted(["b.csv", MANIFEST, SUCCESS_MARKER])


def test_formula_cells_are_neutralised_and_numbers_left_alone(tmp_path):
    frame = pl.DataFrame(
        {
            "name": [
                '=HYPERLINK("http://x")',
                "+1+1",
                "-cmd",
                "@SUM(A1)",
                "\tx",
                "\rx",
                "Anna",
                None,
                "-12.50",
                "+79161234567",
            ],
            "amount": [-1.5, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0, 10.0],
        }
    )
    safe = neutralize_formulas(frame)
    assert safe["name"].to_list() == [
        '\'=HYPERLINK("http://x")',
        "'+1+1",
        "'-cmd",
        "'@SUM(A1)",
        "'\tx",
        "'\rx",
        "Anna",
        None,
        "-12.50",  # plain numbers are data
        "+79161234567",
    ]
    assert safe["amount"].to_list() == frame["amount"].to_list()
    write_csv(frame, tmp_path / "x.csv")
    back = pl.read_csv(tmp_path / "x.csv", infer_schema=False)
    assert all(not v.startswith(("=", "@")) for v in back["name"].drop_nulls())


def test_leftovers_of_a_killed_publisher_are_cleaned_up(tmp_path):
    dead = 2**22 + 4321  # above the kernel's pid range: no such process
    (tmp_path / f".pos.staging-{dead}").mkdir()
    (tmp_path / f".pos.staging-{dead}" / "coupons.csv").write_text("half")
    (tmp_path / f".pos.retired-{dead}").mkdir()
    (tmp_path / ".crm.staging-1").mkdir()  # another folder's: left alone
    publish_folder(tmp_path / "pos", write_one("a\n"))
    assert sorted(p.name for p in tmp_path.iterdir()) == [".crm.staging-1", "pos"]


def test_a_publisher_killed_between_its_renames_gets_the_previous_folder_back(tmp_path):
    dead = 2**22 + 4322
    publish_folder(tmp_path / "pos", write_one("old\n"))
    (tmp_path / "pos").rename(tmp_path / f".pos.retired-{dead}")  # as left by a kill -9
    publish_folder(tmp_path / "crm", write_one("other\n"))  # a neighbour's publication: no effect
    assert not (tmp_path / "pos").exists()

    def look(folder):
        # the previous publication is back in place before the new one is written
        assert (tmp_path / "pos" / "coupons.csv").read_text() == "old\n"
        return write_one("new\n")(folder)

    publish_folder(tmp_path / "pos", look)
    assert (tmp_path / "pos" / "coupons.csv").read_text() == "new\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["crm", "pos"]


def test_export_modes_open_a_publication_to_a_group_and_private_stays_the_default(tmp_path):
    import grp
    import os

    from coupongen.config.job import ExportsConfig
    from coupongen.delivery.publish import export_modes

    def write(folder):
        (folder / "html").mkdir()
        (folder / "html" / "C1.html").write_text("<p>hi</p>")
        return {}

    private = tmp_path / "private"
    publish_folder(private, write)
    assert stat.S_IMODE(private.stat().st_mode) == 0o700
    assert stat.S_IMODE((private / "html").stat().st_mode) == 0o700
    assert stat.S_IMODE((private / "html" / "C1.html").stat().st_mode) == 0o600

    group = grp.getgrgid(os.getegid()).gr_name
    modes = export_modes(ExportsConfig(file_mode="0640", dir_mode="0750", group=group))
    shared = tmp_path / "shared"
    publish_folder(shared, write, modes=modes)
    for path, mode in ((shared, 0o750), (shared / "html", 0o750), (shared / "html" / "C1.html", 0o640)):
        assert (stat.S_IMODE(path.stat().st_mode), path.stat().st_gid) == (mode, os.getegid())
    assert stat.S_IMODE((shared / MANIFEST).stat().st_mode) == 0o640


def test_export_settings_are_checked_with_messages_naming_the_key():
    from pydantic import ValidationError

    from coupongen.config.job import ExportsConfig
    from coupongen.delivery.publish import export_modes
    from coupongen.errors import ConfigError

    with pytest.raises(
        ConfigError, match=r"^exports\.group: no group named 'no-such-group-xyz' on this machine$"
    ):
        export_modes(ExportsConfig(group="no-such-group-xyz"))
    with pytest.raises(ValidationError, match=r"must be octal permission bits such as 0640, got '0680'"):
        ExportsConfig(file_mode="0680")
    with pytest.raises(ValidationError, match=r"must not let every user write \(o\+w\), got '0666'"):
        ExportsConfig(file_mode="0666")


def test_a_folder_is_flushed_in_one_batch_not_file_by_file(tmp_path, monkeypatch):
    import os

    from coupongen.delivery import publish

    monkeypatch.setenv(publish.FSYNC_ENV, "on")
    flushed: list[int] = []
    real_fsync = os.fsync
    monkeypatch.setattr(os, "fsync", lambda fd: flushed.append(fd) or real_fsync(fd))

    def write(folder):
        for i in range(50):
            (folder / f"{i:02d}.txt").write_text("x")
        return {}

    publish_folder(tmp_path / "out", write)
    # the folder itself and its parent; the 52 files (50, manifest, marker) go in one syncfs call
    assert len(flushed) == (2 if publish._libc() is not None else 54)
    assert is_published(tmp_path / "out")


def test_write_files_writes_every_file_and_holds_two_batches_at_most(tmp_path):
    taken: list[int] = []
    written_when_taken: list[int] = []

    def files():
        for i in range(25):
            taken.append(i)
            written_when_taken.append(sum(1 for _ in tmp_path.iterdir()))
            yield tmp_path / f"{i:02d}.txt", f"file {i}\n".encode()

    write_files(files(), threads=3, batch=4)
    assert sorted(p.name for p in tmp_path.iterdir()) == [f"{i:02d}.txt" for i in range(25)]
    assert all((tmp_path / f"{i:02d}.txt").read_text() == f"file {i}\n" for i in range(25))
    # The 9th file is taken once the first batch of 4 is written: never more than two batches ahead.
    assert written_when_taken[8] >= 4 and written_when_taken[16] >= 12


def test_write_files_raises_the_first_failed_write(tmp_path):
    files = [
        (tmp_path / "ok.txt", b"a"),
        (tmp_path / "missing" / "x.txt", b"b"),
        (tmp_path / "ok2.txt", b"c"),
    ]
    with pytest.raises(FileNotFoundError) as err:
        write_files(files, threads=2, batch=2)
    assert err.value.filename == str(tmp_path / "missing" / "x.txt")


def test_files_hashed_as_written_give_the_manifest_reading_them_back_gives(tmp_path, monkeypatch):
    contents = {f"{i}.txt": f"message {i}\n".encode() * (i + 1) for i in range(7)}

    def writer(digests):
        def write(folder):
            write_files(((folder / name, data) for name, data in contents.items()), digests=digests)
            (folder / "extra.csv").write_text("a\n1\n")  # not hashed as written: read back
            return {"rows": 7}

        return write

    read: list[str] = []
    real = publish.sha256_file

    def reading(path):
        read.append(path.name)
        return real(path)

    monkeypatch.setattr(publish, "sha256_file", reading)
    hashed: dict = {}
    known = publish_folder(tmp_path / "known", writer(hashed), digests=hashed)
    assert read == ["extra.csv"]  # the files hashed as written are not read back
    read_back = publish_folder(tmp_path / "read", writer(None))
    assert len(hashed) == 7 and len(read) == 9
    assert known == read_back
    assert known["files"]["3.txt"]["sha256"] == sha256_file(tmp_path / "known" / "3.txt")


def test_write_files_never_writes_one_file_twice(tmp_path):
    with pytest.raises(FileExistsError) as err:
        write_files([(tmp_path / "a.txt", b"1"), (tmp_path / "a.txt", b"2")], threads=1)
    assert err.value.filename == str(tmp_path / "a.txt")
    assert (tmp_path / "a.txt").read_bytes() == b"1"
