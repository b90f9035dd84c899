"""PNG files of 1-bit images, byte for byte as Pillow writes them, at a fraction of its cost.

A barcode is a black-and-white image whose rows repeat (all rows of a 1D code, each module row of
a QR code); Pillow's encoder works through it pixel by pixel, most of the time a barcode took.
Here the same file is built with numpy and zlib: the rows packed to bits; a row equal to the one
above filtered to zeros, any other filtered as Pillow's encoder chooses (the least sum of
distances from zero among None, Up, Sub and Paeth, in that order, ties keeping the earlier);
deflated at Pillow's settings (level 1, filtered strategy, 32 KiB window, memory level 9) and
wrapped in the IHDR, IDAT and IEND chunks Pillow writes. Tests hold the bytes equal to Pillow's on
every symbology and on random images.
"""

from __future__ import annotations

import struct
import zlib

import numpy as np

_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_COMPRESS_LEVEL = 1
# Pillow writes its compressed stream in IDAT chunks of at most this many bytes (its block size);
# barcodes compress to far less, and a larger image is left to Pillow.
_IDAT_LIMIT = 65536


def png_1bit(light: np.ndarray) -> bytes | None:
    """``light`` (a 2D bool array, True = white) as a 1-bit greyscale PNG, the bytes Pillow's
    ``Image.fromarray(light).save(..., "PNG", compress_level=1)`` writes; None for an image whose
    compressed data would not fit one IDAT chunk (left to Pillow).
    """
    height, width = light.shape
    rows = np.packbits(light, axis=1)
    data = _filtered(rows).tobytes()
    compressor = zlib.compressobj(_COMPRESS_LEVEL, zlib.DEFLATED, 15, 9, zlib.Z_FILTERED)
    idat = compressor.compress(data) + compressor.flush()
    if len(idat) > max(_IDAT_LIMIT, 4 * width):
        return None
    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    return _SIGNATURE + _chunk(b"IHDR", header) + _chunk(b"IDAT", idat) + _chunk(b"IEND", b"")


def _chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


_DISTANCE = np.minimum(np.arange(256), 256 - np.arange(256))
"""Each byte's distance from zero read as a signed byte: what Pillow sums to compare filters."""


def _filtered(rows: np.ndarray) -> np.ndarray:
    """Each row of bytes (the filters' unit is one byte) with its filter type byte in front, the
    filter chosen per row as Pillow chooses it.

    A row equal to the one above (most rows of a barcode) filters to zeros: Up, or None when the
    row itself is all zeros. Only the other rows are compared filter by filter.
    """
    previous = np.zeros_like(rows)
    previous[1:] = rows[:-1]
    changed = np.flatnonzero((rows != previous).any(axis=1))
    choice = np.where(rows.any(axis=1), 2, 0).astype(np.uint8)
    output = np.zeros_like(rows)
    if changed.size:
        row, above = rows[changed], previous[changed]
        sub = row.copy()
        sub[:, 1:] -= row[:, :-1]
        best = _DISTANCE[row].sum(axis=1)
        kind = np.zeros(changed.size, dtype=np.uint8)
        chosen = row.copy()
        for code, candidate in ((2, row - above), (1, sub), (4, row - _paeth_prediction(row, above))):
            sums = _DISTANCE[candidate].sum(axis=1)
            better = sums < best
            best = np.where(better, sums, best)
            kind[better] = code
            chosen[better] = candidate[better]
        choice[changed] = kind
        output[changed] = chosen
    return np.concatenate([choice[:, None], output], axis=1)


def _paeth_prediction(rows: np.ndarray, previous: np.ndarray) -> np.ndarray:
    """The Paeth predictor of every byte: left (a), above (b) or upper left (c), whichever is
    nearest to a + b - c; the first byte of a row predicts from above only (a = c = 0).
    """
    a = np.zeros(rows.shape, dtype=np.int32)
    a[:, 1:] = rows[:, :-1]
    b = previous.astype(np.int32)
    c = np.zeros(rows.shape, dtype=np.int32)
    c[:, 1:] = previous[:, :-1]
    pa, pb, pc = np.abs(b - c), np.abs(a - c), np.abs(a + b - 2 * c)
    predicted = np.where((pa <= pb) & (pa <= pc), a, np.where(pb <= pc, b, c))
    return predicted.astype(np.uint8)
