"""Inputs named by URI read as the same files named by path: the same rows kept and quarantined,
the same quarantine files, day partitions pruned, one-line errors naming the location.

``file://`` URIs go through the object-store code (pyarrow's file systems) with local files; an S3
bucket is served by moto's S3-compatible server, in this process.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import polars as pl
import pyarrow.fs as pafs
import pytest
from polars.testing import assert_frame_equal

from coupongen.config import load_job
from coupongen.errors import InputError
from coupongen.inputs.contract import Inputs
from coupongen.inputs.loading import load_inputs
from coupongen.inputs.locations import RemoteFile, _redacted, is_uri, join, shown
from coupongen.inputs.partitions import partition_files
from coupongen.inputs.quarantine import write_quarantine
from coupongen.inputs.reading import file_labels, resolve_files
from coupongen.night.fingerprint import file_fingerprint, night_files, night_key
from coupongen.settings import resolve_settings
from tests.inputs.test_partitions import day_lines

HEADER = "receipt_id,customer_id,ts,store_id,sku,quantity,amount\n"
PART_ONE = (
    HEADER
    + "R1,C1,2026-11-18T10:00:00,S1,P1,1,2.50\n"
    + "R2,C2,2026-11-18T11:00:00,S1,P9,1,2.50\n"  # an unknown sku
    + "R3,C1,2026-11-18T12:00:00,S1,P2,x,7.00\n"  # a quantity that is not a number
)
PART_TWO = HEADER + "R1,C1,2026-11-18T10:00:00,S1,P1,1,2.50\nR4,C2,2026-11-19T09:00:00,S1,P2,2,7.00,more\n"
PRODUCTS = "sku,name,category\nP1,Spaghetti,pasta\nP2,Sauce,sauce\n,No sku,pasta\n"
CUSTOMERS = (
    "customer_id,card_number,email,phone,email_opt_in,sms_opt_in,nps_score\n"
    "C1,,,,false,false,9\nC2,,,,false,false,\nC3,,,,maybe,false,\n"
)
DAYS = (18, 19, 20, 21)


def _day(day: int) -> pl.DataFrame:
    lines = day_lines(day)
    # past max_line_amount on the 20th
    return lines.with_columns(pl.Series("amount", [2.5, 7e9])) if day == 20 else lines


def _exports(root: Path) -> Path:
    """A data folder: parts with markers, day partitions with a damaged day outside every window."""
    parts = root / "parts, one day"
    (parts / "sub").mkdir(parents=True)
    (parts / "part-1.csv").write_text(PART_ONE)
    (parts / "part-2.csv").write_text(PART_TWO)
    _day(22).write_parquet(parts / "part-3.parquet")
    (parts / "_SUCCESS").write_text("")
    (parts / ".part-1.csv.crc").write_bytes(b"crc")
    (parts / "sub" / "part-0.csv").write_text("not read: sub-folders are not searched")
    for shop in ("north", "south"):
        (root / "shops" / shop).mkdir(parents=True)
        (root / "shops" / shop / "tx.csv").write_text(PART_ONE if shop == "north" else PART_TWO)
    days = root / "days"
    for day in DAYS:
        folder = days / f"date=2026-11-{day}"
        folder.mkdir(parents=True)
        _day(day).write_parquet(folder / "part-00000.parquet")
        (folder / "_SUCCESS").write_text("")
    (days / "date=2025-01-01").mkdir()
    (days / "date=2025-01-01" / "part-00000.parquet").write_bytes(b"PAR1 not really parquet")
    (days / "_delta_log").mkdir()
    (root / "products.csv").write_text(PRODUCTS)
    (root / "customers.csv").write_text(CUSTOMERS)
    return root


def _load(data: Path | str, transactions: str, **kw: object) -> Inputs:
    return load_inputs(
        join(data, transactions), join(data, "products.csv"), join(data, "customers.csv"), **kw
    )


def _assert_same(by_uri: Inputs, by_path: Inputs, tmp_path: Path) -> None:
    for name in ("transactions", "products", "customers"):
        got, expected = getattr(by_uri, name), getattr(by_path, name)
        assert_frame_equal(got.kept, expected.kept, check_exact=True)
        assert_frame_equal(got.quarantined, expected.quarantined, check_exact=True)
        assert got.counts == expected.counts
    folders = tmp_path / "q_uri", tmp_path / "q_path"
    write_quarantine(by_uri, folders[0])
    write_quarantine(by_path, folders[1])
    for name in ("transactions", "products", "customers"):
        assert (folders[0] / f"{name}.csv").read_bytes() == (folders[1] / f"{name}.csv").read_bytes()


WINDOW = (date(2026, 11, 19), date(2026, 11, 21))
LOCATIONS = ["parts, one day", "shops/**/*.csv", "parts, one day/part-[12].csv"]


def _check_locations(data: str, local: Path, tmp_path: Path) -> None:
    """Every kind of location read from the URI ``data`` as from the local folder ``local``."""
    for where in LOCATIONS:
        by_path = _load(local, where)
        assert by_path.transactions.counts["quarantined"] >= 2, where
        _assert_same(_load(data, where), by_path, tmp_path / where.replace("/", "_"))
    days = {"file_format": "parquet", "window": WINDOW}
    by_uri = _load(data, "days", **days)
    _assert_same(by_uri, _load(local, "days", **days), tmp_path / "days")
    assert by_uri.transactions.counts == {"read": 4, "kept": 3, "quarantined": 1}
    assert [f.name for f in by_uri.transactions.files] == ["part-00000.parquet"] * 2
    assert [str(f) for f in partition_files(f"{data}/days", WINDOW)] == [
        f"{data}/days/date=2026-11-19/part-00000.parquet",
        f"{data}/days/date=2026-11-20/part-00000.parquet",
    ]


def test_file_uris_read_as_paths(tmp_path):
    local = _exports(tmp_path / "exports")
    _check_locations(local.as_uri(), local, tmp_path)


def test_a_folder_uri_lists_its_parts_sorted_without_markers(tmp_path):
    local = _exports(tmp_path / "exports")
    files = resolve_files(f"{local.as_uri()}/parts,%20one%20day")
    assert all(isinstance(f, RemoteFile) for f in files)
    assert [str(f) for f in files] == [
        f"file://{local.as_posix()}/parts, one day/part-{n}" for n in ("1.csv", "2.csv", "3.parquet")
    ]
    shops = resolve_files(f"{local.as_uri()}/shops/*/tx.csv")
    assert file_labels(shops) == ["north/tx.csv", "south/tx.csv"]


def test_a_missing_or_unreadable_location_is_one_line(tmp_path):
    local = _exports(tmp_path / "exports")
    base = local.as_uri()
    cases = {
        f"{base}/nothing.csv": f"{base}/nothing.csv: file not found",
        f"{base}/days/_delta_log": f"{base}/days/_delta_log: folder holds no .csv or .parquet file",
        f"{base}/shops/*.parquet": f"{base}/shops/*.parquet: no file matches this pattern",
        "nowhere://bucket/x.csv": "nowhere://bucket/x.csv: cannot open the location: "
        "Unrecognized filesystem type in URI: nowhere://bucket/x.csv",
    }
    for location, message in cases.items():
        with pytest.raises(InputError) as e:
            resolve_files(location)
        assert str(e.value) == message
    (local / "empty.csv").write_bytes(b"")
    with pytest.raises(InputError) as e:
        _load(base, "empty.csv")
    assert str(e.value) == f"{base}/empty.csv: file is empty (0 bytes; expected a header line)"
    # A damaged Parquet file: the message of the same file read by path, but for its name.
    damaged = "days/date=2025-01-01/part-00000.parquet"
    messages = []
    for data in (local, base):
        with pytest.raises(InputError) as e:
            _load(data, damaged)
        messages.append(str(e.value).replace(str(join(data, damaged)), "<file>"))
    assert messages[0] == messages[1] and messages[0].startswith("<file>: not a readable Parquet file (")


def test_uris_are_told_from_paths_and_shown_without_secrets():
    assert is_uri("s3://bucket/x") and is_uri("file:///tmp/x")
    assert not is_uri("exports/x.csv") and not is_uri("C:\\exports\\x.csv") and not is_uri(Path("/x"))
    assert join("s3://bucket/exports/", "tx/*.csv") == "s3://bucket/exports/tx/*.csv"
    assert join("s3://bucket?region=eu-west-1", "tx.csv") == "s3://bucket/tx.csv?region=eu-west-1"
    assert join(Path("/data"), "gs://other/tx.csv") == "gs://other/tx.csv"
    assert join(Path("/data"), "tx.csv") == Path("/data/tx.csv")
    assert shown("s3://AKIA:s3cr3t@bucket/a%20b.csv?secret_key=s3cr3t") == "s3://AKIA@bucket/a b.csv"
    assert shown("abfs://container@account.dfs.core.windows.net/x") == (
        "abfs://container@account.dfs.core.windows.net/x"
    )
    # a secret key holding "/", "#" or "?" is still hidden; an empty host keeps its "//"
    assert shown("s3://AKIA:wJalr/K7MD/bPxRfi@shop/x.csv") == "s3://AKIA@shop/x.csv"
    assert shown("s3://AKIA:pa#ss?w@shop/x.csv") == "s3://AKIA@shop/x.csv"
    assert shown("hdfs:///data/x") == "hdfs:///data/x"
    message = _redacted("Cannot parse URI: 's3://AKIA:wJalr/K7MD@shop/x'")
    assert "wJalr" not in message and "K7MD" not in message


def test_a_name_joined_to_a_uri_stays_a_file_within_the_data_folder():
    # "#" and "?" are part of the file's name, not a fragment or options; the folder's options stay
    assert join("s3://shop/exports?region=eu", "a#b.csv") == "s3://shop/exports/a%23b.csv?region=eu"
    assert join("s3://shop/exports", "sub dir/a?b.csv") == "s3://shop/exports/sub dir/a%3Fb.csv"
    with pytest.raises(InputError, match=r"climbs out of the data folder"):
        join("s3://shop/exports", "../../other/products.csv")
    assert join(Path("/data/exports"), "../shared/products.csv") == Path(
        "/data/exports/../shared/products.csv"
    )


def test_a_named_file_with_hash_and_question_marks_is_read_by_uri(tmp_path):
    (tmp_path / "a#b?.csv").write_text("sku,name,category\nA,Apple,fruit\n")
    (tmp_path / "a").write_text("not this one")
    (found,) = resolve_files(join(tmp_path.as_uri(), "a#b?.csv"))
    assert str(found).endswith("/a#b?.csv")


# --- an S3 bucket, served by moto's S3-compatible server -------------------------------------------


@pytest.fixture(scope="module")
def s3() -> Iterator[str]:
    """The endpoint of a local S3 server, with the environment the SDKs read pointing at it."""
    server_module = pytest.importorskip("moto.server")
    server = server_module.ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    env = {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_REGION": "us-east-1",
        "AWS_ENDPOINT_URL": f"http://{host}:{port}",
        "AWS_EC2_METADATA_DISABLED": "true",
    }
    with pytest.MonkeyPatch.context() as mp:
        for key, value in env.items():
            mp.setenv(key, value)
        yield env["AWS_ENDPOINT_URL"]
    server.stop()


def _upload(local: Path, endpoint: str, bucket: str) -> None:
    fs = pafs.S3FileSystem(endpoint_override=endpoint, region="us-east-1", allow_bucket_creation=True)
    fs.create_dir(bucket)
    for path in sorted(local.rglob("*")):
        if path.is_file():
            with fs.open_output_stream(f"{bucket}/{path.relative_to(local).as_posix()}") as out:
                out.write(path.read_bytes())


def test_an_s3_bucket_reads_as_its_local_copy(s3, tmp_path):
    local = _exports(tmp_path / "exports")
    _upload(local, s3, "coupongen-exports")
    _check_locations("s3://coupongen-exports", local, tmp_path)
    # Hadoop's name for S3, as Spark jobs write it: the same files, named as written.
    assert [str(f) for f in resolve_files("s3a://coupongen-exports/shops/*/tx.csv")] == [
        "s3a://coupongen-exports/shops/north/tx.csv",
        "s3a://coupongen-exports/shops/south/tx.csv",
    ]


def test_a_missing_s3_bucket_is_one_line_without_the_secret(s3):
    with pytest.raises(InputError) as e:
        resolve_files("s3://AKIAEXAMPLE:s3cr3t@no-such-bucket/tx.csv?region=us-east-1")
    assert str(e.value) == "s3://AKIAEXAMPLE@no-such-bucket/tx.csv: file not found"
    assert "s3cr3t" not in str(e.value) and os.environ["AWS_ENDPOINT_URL"] == s3


def test_a_data_uri_is_kept_as_written_and_keys_the_night(tmp_path):
    repo = Path(__file__).resolve().parents[2]
    job = load_job(repo / "jobs" / "nightly.toml")
    data = (repo / "sample_data").as_uri()
    settings = resolve_settings(job, as_of=date(2026, 11, 22), data_dir=data, out_dir=tmp_path)
    assert settings.data_dir == data
    files = night_files(job, settings)
    assert [str(f) for f in files[:3]] == [
        f"{data}/{n}.csv" for n in ("transactions", "products", "customers")
    ]
    key = night_key(job, settings)
    assert key == night_key(job, settings)
    local = resolve_settings(job, as_of=date(2026, 11, 22), data_dir=repo / "sample_data", out_dir=tmp_path)
    by_path = [file_fingerprint(f) for f in night_files(job, local)[:3]]
    by_uri = [file_fingerprint(f) for f in files[:3]]
    assert [(f["bytes"], f["mtime_ns"]) for f in by_uri] == [(f["bytes"], f["mtime_ns"]) for f in by_path]
    # Files up to 2 MiB are hashed whole under a URI too; the 5.7 MB transactions by head and tail.
    assert by_path[0]["bytes"] > 2 << 20 and by_uri[0]["sha256"] != by_path[0]["sha256"]
    assert [f["sha256"] for f in by_uri[1:]] == [f["sha256"] for f in by_path[1:]]
