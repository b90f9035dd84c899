"""One e-mail as an RFC 5322 ``.eml`` file that an e-mail platform or an SMTP relay sends as it is.

The HTML body is the rendered e-mail; barcode images the HTML links relatively (no
``image_base_url`` in the job) travel inside the message as inline parts (``multipart/related``),
each referred to by its Content-ID, so the message needs nothing beside it. Images at an absolute
URL stay links. A ``List-Unsubscribe`` header carries the unsubscribe placeholder the platform fills.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Mapping
from email.header import Header
from pathlib import Path

from markupsafe import escape

_DOMAIN = "coupongen"


def content_id(code: str) -> str:
    """The Content-ID of a coupon's image inside a message (codes are unique, safe file names)."""
    return f"{code}@{_DOMAIN}"


def _header(name: str, value: str) -> str:
    """One header line: no line breaks from data, non-ASCII text as an RFC 2047 encoded word."""
    flat = " ".join(value.split())
    if not flat.isascii():
        flat = Header(flat, "utf-8", maxlinelen=76, header_name=name).encode()
    return f"{name}: {flat}"


def _base64(data: bytes) -> str:
    return base64.encodebytes(data).decode("ascii").replace("\n", "\r\n")


def build_eml(
    *,
    to: str,
    subject: str,
    html: str,
    images: Mapping[str, str],
    image_data: Mapping[str, bytes],
    unsubscribe_url: str,
    sender: str | None = None,
) -> bytes:
    """The message as bytes (CRLF line ends, a boundary derived from the content so that the same
    message is the same file). ``images`` maps a link the HTML may use to the image's name in
    ``image_data`` (``<symbology>/<code>.png``, as in the night's image archive, see
    ``image_files``), which holds its bytes; each link found in the HTML becomes ``cid:`` and the
    PNG is attached inline.

    Written directly rather than with `email.message.EmailMessage`, whose header handling costs
    about ten milliseconds a message; the tests parse the result back with the standard library.
    """
    inline = []
    for link, rel in sorted(images.items()):
        quoted = f'src="{escape(link)}"'
        if quoted in html:
            code = Path(rel).stem
            html = html.replace(quoted, f'src="cid:{content_id(code)}"')
            inline.append((code, image_data[rel]))
    headers = [_header("From", sender)] if sender else []
    headers += [
        _header("To", to),
        _header("Subject", subject),
        _header("List-Unsubscribe", f"<{unsubscribe_url}>"),
        "MIME-Version: 1.0",
    ]
    body = [
        'Content-Type: text/html; charset="utf-8"',
        "Content-Transfer-Encoding: base64",
        "",
        _base64(html.encode("utf-8")),
    ]
    if not inline:
        return "\r\n".join(headers + body).encode("ascii")
    digest = hashlib.sha256(html.encode() + b"".join(data for _, data in inline)).hexdigest()
    boundary = f"=_coupongen_{digest[:32]}"
    parts = ["\r\n".join(body)]
    for code, data in inline:
        parts.append(
            "\r\n".join(
                [
                    "Content-Type: image/png",
                    "Content-Transfer-Encoding: base64",
                    f"Content-ID: <{content_id(code)}>",
                    f'Content-Disposition: inline; filename="{code}.png"',
                    "",
                    _base64(data),
                ]
            )
        )
    headers.append(f'Content-Type: multipart/related; type="text/html"; boundary="{boundary}"')
    text = "\r\n".join(headers) + "\r\n\r\n"
    text += "".join(f"--{boundary}\r\n{part}" for part in parts) + f"--{boundary}--\r\n"
    return text.encode("ascii")
