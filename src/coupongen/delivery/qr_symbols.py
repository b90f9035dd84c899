"""QR symbols as module matrices: exactly the symbol the qrcode library builds, several times faster.

qrcode splits the payload into segments (numeric, alphanumeric, bytes) and picks the smallest
version; both are kept. What it does bit by bit in pure Python is done here with integers and
numpy: the segments' bit stream (one Python integer), the Reed-Solomon error correction bytes (a
table-driven division per block), placing the codewords (one numpy assignment along the symbol's
zig-zag path, computed once per version) and choosing the mask (the eight candidates scored at
once, ISO/IEC 18004 penalties as qrcode scores them). Tests hold the matrix equal to qrcode's own.
"""

from __future__ import annotations

import functools
from bisect import bisect_left

import numpy as np
import qrcode
from qrcode import base, util
from qrcode.util import LUT

ERROR_CORRECTION = qrcode.constants.ERROR_CORRECT_M
QUIET_MODULES = 4
_OPTIMIZE = 20  # qrcode's default: runs of 20+ digits or alphanumerics become their own segment
_EXP = base.EXP_TABLE
_LOG = base.LOG_TABLE


def encode_qr(payload: str) -> np.ndarray:
    """QR module matrix of ``payload``, True = dark, without quiet zone: the smallest version at
    level M, segments and mask as qrcode chooses them.
    """
    segments = list(util.optimal_data_chunks(payload, minimum=_OPTIMIZE))
    version = _version(segments, ERROR_CORRECTION)
    layout = qr_layout(version, ERROR_CORRECTION)
    bits = np.unpackbits(np.frombuffer(codewords(segments, version, ERROR_CORRECTION), dtype=np.uint8))
    unmasked = np.zeros(layout.is_data.shape, dtype=bool)
    unmasked[layout.path_rows[: bits.size], layout.path_cols[: bits.size]] = bits.astype(bool)
    candidates = unmasked[None] ^ layout.masks
    scored = np.where(layout.is_data, candidates, layout.scoring_background)
    best = int(np.argmin(qr_penalties(scored)))
    symbol: np.ndarray = np.where(layout.is_data, candidates[best], layout.backgrounds[best])
    return symbol


# --- the data: segments, bits, codewords -------------------------------------------------------


def _segment_bits(segment: util.QRData) -> int:
    """Bits of a segment's data (without its mode and length fields)."""
    n = len(segment)
    if segment.mode == util.MODE_NUMBER:
        return 10 * (n // 3) + (util.NUMBER_LENGTH[n % 3] if n % 3 else 0)
    if segment.mode == util.MODE_ALPHA_NUM:
        return 11 * (n // 2) + 6 * (n % 2)
    return 8 * n


def _version(segments: list[util.QRData], error_correction: int, start: int = 1) -> int:
    """The smallest version holding ``segments``, found as qrcode's ``best_fit`` finds it."""
    sizes = util.mode_sizes_for_version(start)
    needed = sum(4 + sizes[s.mode] + _segment_bits(s) for s in segments)
    version = bisect_left(util.BIT_LIMIT_TABLE[error_correction], needed, start)
    if version == 41:
        raise qrcode.exceptions.DataOverflowError()
    if sizes is not util.mode_sizes_for_version(version):
        return _version(segments, error_correction, version)
    return version


class _Bits:
    """A bit stream in one integer, with the ``put``/``put_bit`` calls qrcode's segments write."""

    def __init__(self) -> None:
        self.value = 0
        self.length = 0

    def put(self, num: int, length: int) -> None:
        self.value = (self.value << length) | num
        self.length += length

    def put_bit(self, bit: bool) -> None:
        self.put(int(bit), 1)


def codewords(segments: list[util.QRData], version: int, error_correction: int) -> bytes:
    """Data and error correction codewords, interleaved, as qrcode's ``create_data`` makes them."""
    bits = _Bits()
    for segment in segments:
        bits.put(segment.mode, 4)
        bits.put(len(segment), util.length_in_bits(segment.mode, version))
        segment.write(bits)
    blocks = base.rs_blocks(version, error_correction)
    limit = sum(b.data_count * 8 for b in blocks)
    if bits.length > limit:
        raise qrcode.exceptions.DataOverflowError()
    bits.put(0, min(limit - bits.length, 4))  # terminator
    bits.put(0, -bits.length % 8)
    data = bits.value.to_bytes(bits.length // 8, "big")
    data += bytes((util.PAD0, util.PAD1)[i % 2] for i in range((limit - bits.length) // 8))
    dc, ec, offset = [], [], 0
    for block in blocks:
        chunk = data[offset : offset + block.data_count]
        offset += block.data_count
        dc.append(chunk)
        ec.append(_remainder(chunk, block.total_count - block.data_count))
    return _interleave(dc) + _interleave(ec)


def _interleave(blocks: list[bytes]) -> bytes:
    longest = max(len(b) for b in blocks)
    return bytes(b[i] for i in range(longest) for b in blocks if i < len(b))


@functools.cache
def _generator_logs(ec_count: int) -> tuple[int, ...]:
    """Logs of the generator polynomial's coefficients after the leading 1 (degree ``ec_count``)."""
    if ec_count in LUT.rsPoly_LUT:
        coefficients = LUT.rsPoly_LUT[ec_count]
    else:
        poly = base.Polynomial([1], 0)
        for i in range(ec_count):
            poly = poly * base.Polynomial([1, base.gexp(i)], 0)
        coefficients = [poly[i] for i in range(len(poly))]
    return tuple(_LOG[c] for c in coefficients[1:])


def _remainder(data: bytes, ec_count: int) -> bytes:
    """Reed-Solomon error correction bytes of one block: data * x^ec mod the generator."""
    logs = _generator_logs(ec_count)
    rest = [0] * ec_count
    for byte in data:
        factor = byte ^ rest[0]
        rest = [*rest[1:], 0]
        if factor:
            f = _LOG[factor]
            rest = [r ^ _EXP[(f + g) % 255] for r, g in zip(rest, logs, strict=True)]
    return bytes(rest)


# --- the symbol: layout per version, masks and their scores --------------------------------------


class QrLayout:
    """Per (version, error correction): which modules hold data and what surrounds them.

    `is_data` marks codeword modules; `path_rows`/`path_cols` list them in the order codeword
    bits fill them; `masks[k]` is mask pattern k restricted to them; `backgrounds[k]` holds the
    function patterns with the format information for mask k, and `scoring_background` the same
    with the format areas light, as scored by qrcode.
    """

    def __init__(self, version: int, error_correction: int) -> None:
        qr = qrcode.QRCode(version=version, error_correction=error_correction, border=0)
        # Codewords of all-zero then all-one bits (long enough to cover the remainder bits too)
        # differ exactly on the data modules, whatever the library's layout code does.
        size = qr.modules_count = 4 * version + 17
        filled = []
        for byte in (0x00, 0xFF):
            qr.data_cache = [byte] * (size * size // 8 + 1)
            qr.makeImpl(True, 0)
            filled.append(np.array(qr.modules, dtype=bool))
        self.is_data = filled[0] != filled[1]
        # Written with all-zero data, the data modules of mask k's symbol are mask k itself.
        self.scoring_background = filled[0] & ~self.is_data
        masks, backgrounds = [], []
        for k in range(8):
            qr.data_cache = [0] * (size * size // 8 + 1)
            qr.makeImpl(False, k)
            symbol = np.array(qr.modules, dtype=bool)
            masks.append(symbol & self.is_data)
            backgrounds.append(symbol & ~self.is_data)
        self.masks = np.stack(masks)
        self.backgrounds = np.stack(backgrounds)
        rows, cols = _data_path(self.is_data)
        self.path_rows, self.path_cols = np.array(rows), np.array(cols)


def _data_path(is_data: np.ndarray) -> tuple[list[int], list[int]]:
    """The data modules in the order codeword bits fill them (ISO/IEC 18004 7.7.3): two-module
    columns from the right, upwards then downwards, stepping over the vertical timing pattern.
    """
    n = is_data.shape[0]
    rows, cols = [], []
    upwards = True
    for right in range(n - 1, 0, -2):
        col = right - 1 if right <= 6 else right
        for row in range(n - 1, -1, -1) if upwards else range(n):
            for c in (col, col - 1):
                if is_data[row, c]:
                    rows.append(row)
                    cols.append(c)
        upwards = not upwards
    return rows, cols


@functools.cache
def qr_layout(version: int, error_correction: int) -> QrLayout:
    """The `QrLayout` of a version and error correction level, made once."""
    return QrLayout(version, error_correction)


def qr_penalties(symbols: np.ndarray) -> np.ndarray:
    """ISO/IEC 18004 mask penalty of each (n, n) symbol in a (k, n, n) bool stack, as qrcode scores.

    N1: runs of 5+ same-colour modules in a row or column score length - 2; N2: 3 per 2x2
    same-colour block (overlapping); N3: 40 per finder-like 1:1:3:1:1 pattern with 4 light modules
    on one side; N4: 10 per full 5 % the dark share departs from 50 %.
    """
    n = symbols.shape[1]
    dark = np.concatenate([symbols, symbols.transpose(0, 2, 1)], axis=1)  # rows, then columns
    light = ~dark

    # N1: a run of length L >= 5 holds L - 4 windows of 5 equal modules; 2 more for its first.
    same = dark[:, :, 1:] == dark[:, :, :-1]
    window5 = same[:, :, :-3] & same[:, :, 1:-2] & same[:, :, 2:-1] & same[:, :, 3:]
    run_start = window5.copy()
    run_start[:, :, 1:] &= ~same[:, :, : n - 5]
    n1 = window5.sum(axis=(1, 2)) + 2 * run_start.sum(axis=(1, 2))

    across = same[:, :n]  # rows only
    down = symbols[:, :-1, :] == symbols[:, 1:, :]
    n2 = 3 * (across[:, :-1, :] & across[:, 1:, :] & down[:, :, :-1]).sum(axis=(1, 2))

    # N3: dark-light-dark-dark-dark-light-dark core, then 4 light after it or before it.
    core = (
        dark[:, :, :-6] & light[:, :, 1:-5] & dark[:, :, 2:-4] & dark[:, :, 3:-3]
        & dark[:, :, 4:-2] & light[:, :, 5:-1] & dark[:, :, 6:]
    )  # fmt: skip
    light4 = light[:, :, :-3] & light[:, :, 1:-2] & light[:, :, 2:-1] & light[:, :, 3:]
    m = n - 10
    finder = (core[:, :, :m] & light4[:, :, 7 : 7 + m]) | (light4[:, :, :m] & core[:, :, 4 : 4 + m])
    n3 = 40 * finder.sum(axis=(1, 2))

    dark_share = symbols.sum(axis=(1, 2)) / (n * n)
    n4 = 10 * (np.abs(dark_share * 100 - 50) / 5).astype(np.int64)
    penalties: np.ndarray = n1 + n2 + n3 + n4
    return penalties


def qr_raster(modules: np.ndarray, module_px: int, quiet_modules: int) -> np.ndarray:
    """Pixels of a QR symbol as a 2D bool array, True = light, with `quiet_modules` light modules
    on every side.
    """
    light = ~modules
    if quiet_modules:
        light = np.pad(light, quiet_modules, constant_values=True)
    return np.repeat(np.repeat(light, module_px, axis=0), module_px, axis=1)
