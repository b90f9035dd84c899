"""Throughput of the image rendering stage against its targets, with a scan check and a profile.

Run: python benchmarks/bench_render.py [--count 10000] [--sample 300]

Renders `count` coupons per symbology with `render_images` (the night's archive written and
flushed, as in a nightly run) with 1 worker and with every core, prints images/s and the ratio to
the target (>= 3,000 EAN-13 and >= 1,500 QR PNG per second on disk with 2 cores), reruns once to
show reuse, decodes a random sample of the archived PNGs with zxing-cpp, and profiles `render_png`.
The anchor, measured in the same run: the libraries' own writers (python-barcode's ImageWriter,
qrcode's PIL image) saving one PNG file per coupon to the same disk, as a program using them
directly would. The machine's load average is printed at the start and the end.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import os
import pstats
import random
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import barcode
import polars as pl
import qrcode
import zxingcpp
from barcode.writer import ImageWriter
from PIL import Image

from coupongen.codes.gs1 import check_digit as gs1_check_digit
from coupongen.delivery import images as render
from coupongen.delivery.image_files import read_pack, render_images
from coupongen.delivery.images import render_png
from coupongen.delivery.png import png_1bit
from coupongen.delivery.qr_symbols import qr_raster

# Images per second across all cores of the 2-core reference machine.
TARGETS = {"ean13": 3000, "qr": 1500}
ALPHABET = "ABCDEFGHJKMNPQRSTVWXYZ23456789"


def coupon_code(rng: random.Random) -> str:
    """A 16-character code in the shape codes.py issues (CPN-XXXX-XXXX-X)."""
    parts = ["".join(rng.choice(ALPHABET) for _ in range(4)) for _ in range(2)]
    return f"CPN-{parts[0]}-{parts[1]}-{rng.choice(ALPHABET)}"


def make_items(symbology: str, count: int, seed: int = 7) -> pl.DataFrame:
    rng = random.Random(seed)
    codes = [f"{symbology.upper()}-{i:07d}" for i in range(count)]
    if symbology == "ean13":
        # 99 = coupon prefix; 10 random digits then the check digit.
        payloads = [f"99{rng.randrange(10**10):010d}" for _ in codes]
        payloads = [p + gs1_check_digit(p) for p in payloads]
    elif symbology == "gs1_128":
        gcns = [f"401234500001{rng.randrange(10**6):06d}" for _ in codes]
        payloads = [f"(255)4012345000016{g[12:]}(17)261231" for g in gcns]
    else:
        payloads = [coupon_code(rng) for _ in codes]
    return pl.DataFrame({"code": codes, "payload": payloads, "symbology": symbology})


def per_call_us(function: Callable[[], object], repeat: int) -> float:
    """Microseconds per call: the best of 5 batches, which other load disturbs least."""
    batches = []
    for _ in range(5):
        start = time.perf_counter()
        for _ in range(repeat):
            function()
        batches.append((time.perf_counter() - start) / repeat * 1e6)
    return min(batches)


def library_writer_rates() -> dict[str, float]:
    """Images/s of the libraries' own PNG writers, the baseline this stage replaces."""

    def ean_writer() -> bytes:
        buffer = io.BytesIO()
        barcode.get("ean13", "9912345678909", writer=ImageWriter()).write(buffer)
        return buffer.getvalue()

    def qr_writer() -> bytes:
        buffer = io.BytesIO()
        qrcode.make("CPN-7KQ2-MX9P-4A", box_size=3).save(buffer)
        return buffer.getvalue()

    return {
        "ean13": 1e6 / per_call_us(ean_writer, 200),
        "qr": 1e6 / per_call_us(qr_writer, 200),
    }


def library_writer_disk_rates(root: str | None, count: int) -> dict[str, float]:
    """Images/s of the libraries' own writers saving one PNG file per coupon under `root`, 1 core."""
    rates = {}
    for symbology, save in (
        ("ean13", lambda payload, path: barcode.get("ean13", payload, writer=ImageWriter()).save(path)),
        ("qr", lambda payload, path: qrcode.make(payload, box_size=3).save(path + ".png")),
    ):
        items = make_items(symbology, count, seed=11)
        with tempfile.TemporaryDirectory(dir=root) as tmp:
            start = time.perf_counter()
            for code, payload in zip(items["code"], items["payload"], strict=True):
                save(payload, os.path.join(tmp, code))
            rates[symbology] = count / (time.perf_counter() - start)
    return rates


def scan_check(out_dir: Path, items: pl.DataFrame, sample: int) -> tuple[int, int]:
    rows = items.sample(min(sample, len(items)), seed=1).iter_rows(named=True)
    pack = read_pack(out_dir)
    ok = total = 0
    for row in rows:
        total += 1
        results = zxingcpp.read_barcodes(Image.open(io.BytesIO(pack[row["png_path"]])))
        expected = row["payload"]
        ok += len(results) == 1 and results[0].text == expected
    return ok, total


def profile_lines(payload: str, symbology: str, repeat: int) -> list[str]:
    profile = cProfile.Profile()
    profile.enable()
    for _ in range(repeat):
        render_png(payload, symbology)
    profile.disable()
    stats = pstats.Stats(profile)
    total = stats.total_tt  # type: ignore[attr-defined]
    entries = stats.stats.items()  # type: ignore[attr-defined]
    rows = sorted(
        ((own, calls, f"{Path(file).parent.name}/{Path(file).name}:{name}")
         for (file, _line, name), (_, calls, own, *_rest) in entries),
        reverse=True,
    )  # fmt: skip
    return [
        f"#   {tottime / total:5.1%}  {tottime / repeat * 1e6:6.1f} us  {where}"
        for tottime, _calls, where in rows[:8]
    ]


def stage_breakdown() -> list[str]:
    """Direct timings of each step of one PNG, in microseconds (profiler overhead excluded)."""
    ean, qr_payload = "9912345678909", "CPN-7KQ2-MX9P-4A"
    bars = render._encode_linear(ean, "ean13")
    ean_light = render._linear_raster("ean13", bars, 3, True)
    ean_image = Image.fromarray(ean_light)
    modules = render._encode_qr(qr_payload)
    qr_light = qr_raster(modules, 3, 4)
    qr_image = Image.fromarray(qr_light)

    def save(image: Image.Image) -> bytes:
        buffer = io.BytesIO()
        image.save(buffer, "PNG", optimize=False, compress_level=1)
        return buffer.getvalue()

    def qr_fixed_mask() -> object:
        qr = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_M, mask_pattern=0)
        qr.add_data(qr_payload)
        qr.make(fit=True)
        return qr.modules

    def qr_all_masks_in_qrcode() -> object:
        qr = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_M)
        qr.add_data(qr_payload)
        qr.make(fit=True)
        return qr.modules

    steps = [
        ("EAN-13 encode (python-barcode build)", lambda: render._encode_linear(ean, "ean13")),
        ("EAN-13 raster (numpy)", lambda: render._linear_raster("ean13", bars, 3, True)),
        ("EAN-13 Image.fromarray", lambda: Image.fromarray(ean_light)),
        ("EAN-13 PNG save, Pillow (1-bit, level 1)", lambda: save(ean_image)),
        ("EAN-13 PNG, png_1bit (the same bytes)", lambda: png_1bit(ean_light)),
        ("EAN-13 render_png total", lambda: render_png(ean, "ean13")),
        ("QR encode, qrcode choosing the mask", qr_all_masks_in_qrcode),
        ("QR encode, qrcode with fixed mask 0", qr_fixed_mask),
        ("QR encode, qr_symbols (the same matrix)", lambda: render._encode_qr(qr_payload)),
        ("QR raster (numpy)", lambda: qr_raster(modules, 3, 4)),
        ("QR PNG save, Pillow (1-bit, level 1)", lambda: save(qr_image)),
        ("QR PNG, png_1bit (the same bytes)", lambda: png_1bit(qr_light)),
        ("QR render_png total", lambda: render_png(qr_payload, "qr")),
    ]
    return [f"#   {per_call_us(step, 300):7.1f} us  {name}" for name, step in steps]


def output_roots() -> dict[str, str | None]:
    """Where to write: the default temp dir (disk) and, when there is one, a RAM disk."""
    roots: dict[str, str | None] = {"disk": None}
    if Path("/dev/shm").is_dir():
        roots["tmpfs"] = "/dev/shm"
    return roots


def cpu_seconds() -> float:
    """CPU time of this process and of its finished children (the pool's workers)."""
    times = os.times()
    return times.user + times.system + times.children_user + times.children_system


def file_create_us(root: str | None, count: int = 2000) -> float:
    """Microseconds to create one new 300-byte file in a fresh directory under `root`."""
    with tempfile.TemporaryDirectory(dir=root) as tmp:
        start = time.perf_counter()
        for i in range(count):
            with open(os.path.join(tmp, f"{i:06d}.png"), "wb") as file:
                file.write(b"x" * 300)
        return (time.perf_counter() - start) / count * 1e6


def run(items: pl.DataFrame, out_dir: Path, workers: int) -> tuple[float, float, pl.DataFrame]:
    """Images/s (wall clock) and CPU microseconds per image of one render_images call."""
    start, start_cpu = time.perf_counter(), cpu_seconds()
    result = render_images(items, out_dir, workers=workers)
    wall, cpu = time.perf_counter() - start, cpu_seconds() - start_cpu
    return len(items) / wall, cpu / len(items) * 1e6, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=10_000, help="coupons per symbology")
    parser.add_argument("--sample", type=int, default=300, help="PNGs decoded per symbology")
    args = parser.parse_args()
    cores = len(os.sched_getaffinity(0))
    load = os.getloadavg()[0]

    print(f"# render_images, {args.count} coupons per symbology, PNG, {cores} cores")
    busy = "  (busy machine: figures are low)" if load > 0.5 else ""
    print(f"# load average before start: {load:.2f}{busy}")
    print("# img/s = wall clock; cpu us = CPU time per image over all processes, which other")
    print("# load on the machine inflates far less than the wall clock; ceiling = what all cores")
    print("# would give if they were free, from the 1-worker CPU time per image")
    roots = output_roots()
    header = "".join(f" {name + ' img/s':>11} {'ratio':>6} {'cpu us':>6}" for name in roots)
    print(f"{'symbology':10} {'workers':>7} {'target':>7}{header}")
    scans = []
    disk_rates: dict[str, float] = {}
    for symbology in ("ean13", "qr", "code128", "gs1_128"):
        items = make_items(symbology, args.count)
        target = TARGETS.get(symbology)
        for workers in sorted({1, cores}):
            cells = []
            for root in roots.values():
                with tempfile.TemporaryDirectory(dir=root) as tmp:
                    rate, cpu_us, _ = run(items, Path(tmp), workers)
                    ratio = f"{rate / target:.2f}x" if target else ""
                    cells.append(f" {rate:>11,.0f} {ratio:>6} {cpu_us:>6,.0f}")
                    if workers == cores and root is None:
                        if target:
                            disk_rates[symbology] = rate
                        reuse_rate, _, result = run(items, Path(tmp), workers)
                        scans.append((symbology, *scan_check(Path(tmp), result, args.sample)))
            print(f"{symbology:10} {workers:>7} {target or '-':>7}{''.join(cells)}")
            if workers == 1:
                ceiling = cores * 1e6 / cpu_us  # last cell: tmpfs (or disk without a RAM disk)
        print(f"{'':10} {'rerun':>7} {'':>7} {reuse_rate:>11,.0f}   (disk, files reused)")
        vs_target = f" = {ceiling / target:.2f}x target" if target else ""
        print(
            f"{'':10} {'ceiling':>7} {'':>7} {ceiling:>11,.0f}   ({cores} idle cores at the "
            f"1-worker CPU time{vs_target})"
        )

    creates = ", ".join(f"{name} {file_create_us(root):.0f} us" for name, root in roots.items())
    print(f"\n# creating one new small file: {creates} (the gap between disk and tmpfs above)")

    print("\n# scan check: a random sample of the written PNGs decoded with zxing-cpp")
    for symbology, ok, total in scans:
        print(f"{symbology:10} {ok}/{total} decode to their payload")

    print("\n# anchor: the libraries' own PNG writers, 1 core, in memory and one file per image on disk")
    on_disk = library_writer_disk_rates(None, min(args.count, 2000))
    for symbology, rate in library_writer_rates().items():
        print(
            f"{symbology:10} {rate:>9,.0f} images/s in memory, {on_disk[symbology]:>9,.0f} images/s to disk files"
        )
    for symbology, rate in disk_rates.items():
        anchor = on_disk[symbology]
        print(
            f"{symbology:10} render_images, {cores} workers, disk: {rate:,.0f} images/s; goal {TARGETS[symbology]:,} "
            f"({rate / TARGETS[symbology]:.2f}x); {rate / anchor:.1f}x the library's own writer to disk"
        )
    print(f"# load average at the end: {os.getloadavg()[0]:.2f}")

    print("\n# where the time goes, per PNG, 1 core")
    print("\n".join(stage_breakdown()))
    for payload, symbology in (("9912345678909", "ean13"), ("CPN-7KQ2-MX9P-4A", "qr")):
        print(f"# cProfile of render_png({symbology}), top functions by own time:")
        print("\n".join(profile_lines(payload, symbology, 2000)))


if __name__ == "__main__":
    main()
