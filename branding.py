"""An organization's brand: its logo, decoded and drawn again by Pillow so that only pixels
are kept, and its colour (DESIGN.md, "The issuer's own email and certificate")."""

import functools
import io
import re
import warnings

import sqlalchemy as sa
from PIL import Image, UnidentifiedImageError

from models import Organization, db
from validation import InvalidInput

LOGO_MAX_BYTES = 1 << 20
# The largest logo file we keep; a larger picture is scaled down to fit.
LOGO_BOX = (600, 200)
BADGE_BOX = (400, 400)  # a group's badge image, as Open Badges show it
# Decoding needs about 4 bytes a pixel: 40 million pixels (160 MB) is more than any logo,
# and a file that declares more is refused before a pixel is decoded.
PIXELS_MAX = 40_000_000
COLOUR = re.compile(r"#[0-9a-f]{6}")
DEFAULT_COLOUR = "#2255aa"


def clean_logo(data, box=LOGO_BOX):
    """PNG bytes of an uploaded PNG or JPEG, at most box, or InvalidInput saying why."""
    if not data:
        raise InvalidInput("Choose a PNG or JPEG file.")
    if len(data) > LOGO_MAX_BYTES:
        raise InvalidInput(f"The logo is {len(data) / (1 << 20):.1f} MB: at most 1 MB, "
                           "please.")
    try:
        with warnings.catch_warnings():
            # Pillow warns of large images; the size is checked below before decoding.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data), formats=["PNG", "JPEG"]) as image:
                width, height = image.size
                if width * height > PIXELS_MAX:
                    raise InvalidInput(f"The image declares {width:,} × {height:,} pixels: "
                                       "too large to be a logo.")
                image.load()
                picture = image.convert("RGBA")
    except InvalidInput:
        raise
    except Image.DecompressionBombError:  # Pillow's own check, at even larger sizes
        raise InvalidInput("The image declares too many pixels to be a logo.") from None
    except UnidentifiedImageError:
        raise InvalidInput("That file is not a PNG or JPEG image.") from None
    except (OSError, ValueError, SyntaxError):
        raise InvalidInput("The image is damaged: it could not be read whole.") from None
    picture.thumbnail(box)
    drawn = io.BytesIO()
    picture.save(drawn, "PNG", optimize=True)
    return drawn.getvalue()


def clean_colour(value):
    """A colour as #rrggbb (lower case), or InvalidInput."""
    if not isinstance(value, str) or not COLOUR.fullmatch(value.strip().lower()):
        raise InvalidInput("The colour must be written #rrggbb, for example #2255aa.")
    return value.strip().lower()


def _luminance(colour):
    """WCAG relative luminance of #rrggbb."""
    def channel(hex_pair):
        value = int(hex_pair, 16) / 255
        return value / 12.92 if value <= 0.03928 else ((value + 0.055) / 1.055) ** 2.4
    red, green, blue = (channel(colour[i:i + 2]) for i in (1, 3, 5))
    return 0.2126 * red + 0.7152 * green + 0.0722 * blue


def text_colour(colour):
    """Black or white, whichever reads better on the colour."""
    return "#ffffff" if contrast(colour, "#ffffff") >= contrast(colour, "#000000") \
        else "#000000"


def logo_png(org):
    """The organization's logo as stored, or None: read once per process for each version
    (every PDF and every opened email asks for it)."""
    return _stored_logo(org.id, org.public_id, org.brand_version) if org.logo_width else None


@functools.lru_cache(maxsize=32)  # a logo is at most a few hundred KB once drawn again
def _stored_logo(org_id, public_id, version):
    # The public id keeps another database's organization of the same id apart (tests).
    return db.session.scalar(sa.select(Organization.logo_png).where(Organization.id == org_id))


def set_logo(org, data):
    """Keep the uploaded logo (checked and drawn again) as the organization's."""
    png = clean_logo(data)
    with Image.open(io.BytesIO(png)) as image:
        org.logo_width, org.logo_height = image.size
    org.logo_png = png
    org.brand_version += 1


def set_badge_image(group, data):
    """Keep the uploaded picture (checked and drawn again) as the group's badge image."""
    png = clean_logo(data, BADGE_BOX)
    with Image.open(io.BytesIO(png)) as image:
        group.image_width = image.width
    group.image_png = png
    group.image_version += 1


def remove_badge_image(group):
    group.image_png = group.image_width = None
    group.image_version += 1


def remove_logo(org):
    org.logo_png = org.logo_width = org.logo_height = None
    org.brand_version += 1


def set_colour(org, colour):
    """The organization's colour (#rrggbb), or None for ours."""
    if colour != org.brand_colour:
        org.brand_colour = colour
        org.brand_version += 1


def contrast(colour, other):
    """WCAG contrast ratio of two #rrggbb colours."""
    lighter, darker = sorted((_luminance(colour), _luminance(other)), reverse=True)
    return (lighter + 0.05) / (darker + 0.05)


def stylesheet(colour):
    """The brand's CSS for the recipient and public pages (served from our origin: the
    Content-Security-Policy allows no inline style). Text in the colour only where it reads
    on white (WCAG AA, 4.5:1); the button's text black or white, whichever reads."""
    text = colour if contrast(colour, "#ffffff") >= 4.5 else "var(--ink)"
    return (f".certificate {{ border-top-color: {colour}; }}\n"
            f".certificate h2 {{ color: {text}; }}\n"
            f".take-away .button.primary {{ background: {colour}; border-color: {colour}; "
            f"color: {text_colour(colour)}; }}\n")
