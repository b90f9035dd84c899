"""One e-mail as an RFC 5322 ``.eml`` file that an e-mail platform or an SMTP relay sends as it is.

The HTML body is the rendered e-mail; barcode images the HTML links relatively (no
``image_base_url`` in the job) travel inside the message as inline parts (``multipart/related``),
each referred to by its Content-ID, so the message needs nothing beside it. Images at an absolute
URL stay links. A ``List-Unsubscribe`` header carries the unsubscribe placeholder the platform fills.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from email.message import EmailMessage
from email.policy import SMTP
from pathlib import Path

from markupsafe import escape

_DOMAIN = "coupongen"


def content_id(code: str) -> str:
    """The Content-ID of a coupon's image inside a message (codes are unique, safe file names)."""
    return f"{code}@{_DOMAIN}"


def build_eml(
    *,
    to: str,
    subject: str,
    html: str,
    images: Mapping[str, str],
    image_dir: Path,
    unsubscribe_url: str,
    sender: str | None = None,
) -> bytes:
    """The message as bytes (CRLF line ends, a boundary derived from the content so that the same
    message is the same file). ``images`` maps a link the HTML may use to the image's path under
    ``image_dir`` (``<symbology>/<code>.png``); each link found in the HTML becomes ``cid:`` and the
    PNG is attached inline.
    """
    msg = EmailMessage(policy=SMTP)
    if sender:
        msg["From"] = sender
    msg["To"] = to
    msg["Subject"] = subject
    msg["List-Unsubscribe"] = f"<{unsubscribe_url}>"
    msg["MIME-Version"] = "1.0"
    inline = []
    for link, rel in sorted(images.items()):
        quoted = f'src="{escape(link)}"'
        if quoted in html:
            code = Path(rel).stem
            html = html.replace(quoted, f'src="cid:{content_id(code)}"')
            inline.append((code, image_dir / rel))
    msg.set_content(html, subtype="html", charset="utf-8")
    for code, path in inline:
        msg.add_related(
            path.read_bytes(),
            maintype="image",
            subtype="png",
            cid=f"<{content_id(code)}>",
            filename=path.name,
        )
    if msg.is_multipart():
        digest = hashlib.sha256(html.encode() + b"".join(p.read_bytes() for _, p in inline)).hexdigest()
        msg.set_boundary(f"=_coupongen_{digest[:32]}")
    return msg.as_bytes()
