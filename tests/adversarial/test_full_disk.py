"""A full disk at any writer: one line and exit code 1, never a traceback, never half a file or a
half-published folder, the ledger consistent, and a rerun after freeing space completes.

The fault is injected at the write layer (polars' CSV and Parquet writers, pathlib's writes), the
way each fails for real: polars as an OSError without errno or file name, Python with both.
``benchmarks/full_disk.py`` fills real small file systems.
"""

from __future__ import annotations

import errno
from pathlib import Path

import polars as pl
import pytest

from coupongen.delivery.publish import publish_folder, write_atomic
from coupongen.ledger import Ledger
from coupongen.safecsv import parquet_writer, write_csv
from tests.adversarial.conftest import run_hostile

FULL = "the disk is full (no space left on device); free space and run again"


def _fill(monkeypatch, where: str) -> None:
    """Every write to a path containing ``where`` writes part of its data, then finds the disk full."""
    real_csv, real_parquet = pl.DataFrame.write_csv, pl.DataFrame.write_parquet
    real_text, real_bytes = Path.write_text, Path.write_bytes

    def csv(self, file=None, *args, **kwargs):
        if file is not None and where in str(file):
            real_bytes(Path(file), b"sku,na")
            raise OSError("No space left on device (os error 28)")
        return real_csv(self, file, *args, **kwargs)

    def parquet(self, file, *args, **kwargs):
        if where in str(file):
            real_bytes(Path(file), b"PAR1")
            raise pl.exceptions.ComputeError(
                "parquet: File out of specification: underlying IO error: No space left on device (os error 28)"
            )
        return real_parquet(self, file, *args, **kwargs)

    def text(self, data, *args, **kwargs):
        if where in str(self):
            real_text(self, data[: len(data) // 2], *args, **kwargs)
            raise OSError(errno.ENOSPC, "No space left on device")  # as a real write: no file name
        return real_text(self, data, *args, **kwargs)

    def raw(self, data):
        if where in str(self):
            real_bytes(self, data[: len(data) // 2])
            raise OSError(errno.ENOSPC, "No space left on device", str(self))
        return real_bytes(self, data)

    monkeypatch.setattr(pl.DataFrame, "write_csv", csv)
    monkeypatch.setattr(pl.DataFrame, "write_parquet", parquet)
    monkeypatch.setattr(Path, "write_text", text)
    monkeypatch.setattr(Path, "write_bytes", raw)


def _leftovers(folder: Path) -> list[str]:
    return sorted(
        p.name
        for p in folder.rglob("*")
        if ".staging-" in p.name or ".retired-" in p.name or p.suffix == ".tmp"
    )


FRAME = pl.DataFrame({"sku": ["P1", "P2"], "name": ["Tea", "Jam"]})


@pytest.mark.parametrize(
    ("writer", "where"),
    [
        (lambda path: write_csv(FRAME, path), ".csv"),
        (parquet_writer(FRAME), ".parquet"),
        (lambda path: path.write_text("<html>report</html>"), ".html"),
        (lambda path: path.write_bytes(b"\x89PNG....."), ".png"),
    ],
)
def test_a_file_written_aside_keeps_the_earlier_one_whole(tmp_path, monkeypatch, writer, where):
    target = tmp_path / f"out{where}"
    target.write_bytes(b"earlier")
    _fill(monkeypatch, where)
    with pytest.raises(OSError) as e:
        write_atomic(target, writer)
    # Named: the file being written aside, or (a write that names none) the output it was for.
    assert e.value.errno == errno.ENOSPC
    assert e.value.filename == str(target) if where == ".html" else ".staging-" in e.value.filename
    assert target.read_bytes() == b"earlier"
    assert _leftovers(tmp_path) == []


def test_a_folder_is_published_whole_or_not_at_all(tmp_path, monkeypatch):
    def build(folder: Path) -> dict[str, object]:
        write_csv(FRAME, folder / "a.csv")
        write_csv(FRAME, folder / "b.csv")
        return {"rows": 2}

    publish_folder(tmp_path / "pos", build)
    before = {p.name: p.read_bytes() for p in (tmp_path / "pos").iterdir()}
    _fill(monkeypatch, "b.csv")
    with pytest.raises(OSError) as e:
        publish_folder(tmp_path / "pos", build)
    assert e.value.errno == errno.ENOSPC and e.value.filename.endswith("b.csv")
    assert {p.name: p.read_bytes() for p in (tmp_path / "pos").iterdir()} == before
    assert _leftovers(tmp_path) == []


def test_a_quarantine_file_is_never_left_half_written(tmp_path, monkeypatch):
    from coupongen.config.job import InputsConfig
    from coupongen.inputs.loading import load_job_inputs
    from coupongen.inputs.quarantine import write_quarantine
    from tests.adversarial.hostile import hostile_data

    inputs = load_job_inputs(InputsConfig(), hostile_data(tmp_path / "data"))
    assert inputs.transactions.quarantined.height
    _fill(monkeypatch, "quarantine")
    with pytest.raises(OSError) as e:
        write_quarantine(inputs, tmp_path / "quarantine")
    assert e.value.errno == errno.ENOSPC
    assert list((tmp_path / "quarantine").iterdir()) == []


def test_a_night_that_fills_the_disk_fails_in_one_line_and_reruns(hostile_run, tmp_path, monkeypatch):
    out = tmp_path / "out"
    _fill(monkeypatch, ".pos.staging")
    result = run_hostile(hostile_run.job, out)
    lines = result.output.strip().splitlines()
    assert result.exit_code == 1 and len(lines) == 1, result.output
    assert lines[0].startswith(f"Error: {out / '2026-11-22' / '.pos.staging-'}") and lines[0].endswith(FULL)
    night = out / "2026-11-22"
    assert not (night / "pos").exists() and _leftovers(out) == []
    with Ledger.open(out / "ledger.sqlite", create=False) as ledger:
        assert ledger.runs()["status"].to_list() == ["failed"] and ledger.lock_holder() is None
        issued = ledger.coupons()["offer_key"].sort().to_list()
    assert issued
    monkeypatch.undo()  # space freed
    rerun = run_hostile(hostile_run.job, out)
    assert rerun.exit_code == 0, rerun.output
    assert all((night / f / "_SUCCESS").is_file() for f in ("pos", "crm", "email", "sms", "app"))
    with Ledger.open(out / "ledger.sqlite", create=False) as ledger:
        assert ledger.coupons()["offer_key"].sort().to_list() == issued
        assert ledger.runs()["status"].to_list() == ["failed", "succeeded"]
    assert _leftovers(out) == []


def test_an_image_archive_that_fills_the_disk_is_named_and_removed(tmp_path, monkeypatch):
    import polars as pl

    from coupongen.delivery import image_files

    def full(target, members):
        with open(target, "wb") as half:
            half.write(b"PK\x03\x04")
        raise OSError(errno.ENOSPC, "No space left on device")  # as a real write: no file name

    monkeypatch.setattr(image_files, "_write_pack", full)
    items = pl.DataFrame({"code": ["X7K2M9QRTA5B"], "payload": ["X7K2M9QRTA5B"], "symbology": ["code128"]})
    with pytest.raises(OSError) as e:
        image_files.render_images(items, tmp_path, workers=1)
    assert (e.value.errno, e.value.filename) == (errno.ENOSPC, str(tmp_path / image_files.PACK_NAME))
    assert list(tmp_path.iterdir()) == []
