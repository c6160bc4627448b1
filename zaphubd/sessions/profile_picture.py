"""A profile picture as WhatsApp takes it: a square JPEG of at most 640 pixels a side.

whatsmeow uploads the bytes it is given and WhatsApp refuses anything but a JPEG, so a PNG
(or a JPEG of another shape) is converted here, once, for every transport. CPU-bound: run it
in a thread.
"""

from __future__ import annotations

import io
import warnings

from zaphubd.media import MediaError

SIDE_PX = 640
JPEG_QUALITY = 85


def to_profile_jpeg(data: bytes) -> bytes:
    """`data` (JPEG or PNG) cropped to its centre square, scaled down to SIDE_PX, as JPEG."""
    from PIL import Image  # Pillow comes with neonize

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as image:
                if image.format not in ("JPEG", "PNG"):
                    raise MediaError(f"the picture is {image.format}, not a JPEG or PNG image")
                side = min(image.size)
                left, top = (image.width - side) // 2, (image.height - side) // 2
                square = image.crop((left, top, left + side, top + side))
                square.thumbnail((SIDE_PX, SIDE_PX))
                out = io.BytesIO()
                square.convert("RGB").save(out, "JPEG", quality=JPEG_QUALITY)
    except (
        OSError,
        ValueError,
        Image.DecompressionBombWarning,
        Image.DecompressionBombError,
    ) as err:
        raise MediaError(f"the picture cannot be read as an image: {err}") from err
    return out.getvalue()
