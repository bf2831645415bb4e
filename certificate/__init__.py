"""The credential as a recipient takes it away: a one-page PDF, the LinkedIn link, and the
public verification URL that both carry (never the recipient's token)."""

import functools
import io
from pathlib import Path
from typing import NamedTuple
from urllib.parse import urlencode

import segno
from flask import current_app
from flask_babel import gettext
from fpdf import FPDF
from PIL import Image

import branding
import languages

# DejaVu Sans (Bitstream Vera licence, fonts/LICENSE) covers Latin with accents, Greek
# and Cyrillic, so every name prints as itself.
FONTS = Path(__file__).with_name("fonts")
INK, MUTED, BAD = (31, 41, 55), (107, 114, 128), (192, 57, 43)

# LinkedIn's "Add to profile" link for certifications, with the parameters of its
# add-to-profile generator (addtoprofile.linkedin.com): startTask=CERTIFICATION_NAME, name,
# organizationName, issueYear, issueMonth (1–12), certUrl, certId.
LINKEDIN_ADD = "https://www.linkedin.com/profile/add"


def public_url(credential):
    """The public verification page of the credential: its public id, no token."""
    return f"{current_app.config['PUBLIC_BASE_URL']}/v/{credential.public_id}"


def linkedin_url(credential):
    """LinkedIn's add-to-profile link, filled in with the credential."""
    issued = credential.published_at
    return LINKEDIN_ADD + "?" + urlencode({
        "startTask": "CERTIFICATION_NAME", "name": credential.group.name,
        "organizationName": credential.org.name, "issueYear": issued.year,
        "issueMonth": issued.month, "certUrl": public_url(credential),
        "certId": credential.public_id})


class Printed(NamedTuple):
    """Everything a certificate prints: its PDF is a function of these alone."""

    organization: str
    recipient: str
    group: str
    issued: str
    url: str
    validity: str = ""  # "Expires on …", "Expired on …", or nothing for good
    expired: bool = False
    colour: str = branding.DEFAULT_COLOUR  # the organization's brand colour
    logo: bytes | None = None  # its logo, as branding drew it
    # The words around them, in the group's language: certifies, awarded, verify.
    words: tuple = ("certifies that", "has been awarded", "Verify this credential at")


def printed(credential):
    """What the credential's certificate prints now, in its group's language."""
    org = credential.org
    expired = credential.expired()
    with languages.speaking(credential.group.language):
        validity = ""
        if credential.expires_at:
            day = languages.date(credential.expires_at)
            validity = (gettext("Expired on %(date)s", date=day) if expired
                        else gettext("Expires on %(date)s", date=day))
        words = (gettext("certifies that"), gettext("has been awarded"),
                 gettext("Verify this credential at"))
        issued = gettext("Issued %(date)s", date=languages.date(credential.published_at))
    return Printed(org.name, credential.recipient_name, credential.group.name, issued,
                   public_url(credential), validity, expired,
                   org.brand_colour or branding.DEFAULT_COLOUR,
                   branding.logo_png(org), words)


def pdf(credential):
    """The certificate as a one-page landscape A4 PDF, with a QR code of its public URL:
    made once per process for what it prints (about 120 ms of CPU each), kept until that
    changes (the name, the group, the date: a new Printed), the least asked for first out."""
    return _render(printed(credential))


@functools.lru_cache(maxsize=256)  # at about 35 KB a PDF, under 10 MB
def _render(certificate):
    url = certificate.url
    document = FPDF(orientation="landscape", format="A4")
    document.set_auto_page_break(False)
    document.set_title(f"{certificate.group} · {certificate.recipient}")
    document.set_author(certificate.organization)
    document.add_font("DejaVu", "", FONTS / "DejaVuSans.ttf")
    document.add_font("DejaVu", "B", FONTS / "DejaVuSans-Bold.ttf")
    document.add_page()
    width = document.w - 40
    accent = _rgb(certificate.colour)
    # The group's name in the brand colour where it reads on white, else in ink.
    heading = accent if branding.contrast(certificate.colour, "#ffffff") >= 4.5 else INK
    document.set_draw_color(*accent)
    document.set_line_width(1.2)
    document.rect(10, 10, document.w - 20, document.h - 20)
    if certificate.logo:
        with Image.open(io.BytesIO(certificate.logo)) as logo:
            ratio = logo.width / logo.height
        height = min(16, 80 / ratio)  # at most 80 mm wide, 16 mm high
        document.image(io.BytesIO(certificate.logo), x=(document.w - height * ratio) / 2,
                       y=18, h=height)
    document.set_xy(20, 38)
    _line(document, certificate.organization, 16, "B", MUTED, width)
    certifies, awarded, verify = certificate.words
    _line(document, certifies, 13, "", MUTED, width, gap=10)
    _line(document, certificate.recipient, 30, "B", INK, width)
    _line(document, awarded, 13, "", MUTED, width, gap=6)
    _line(document, certificate.group, 22, "B", heading, width)
    _line(document, certificate.issued, 12, "", INK, width, gap=4)
    if certificate.validity:
        _line(document, certificate.validity, 12, "B" if certificate.expired else "",
              BAD if certificate.expired else INK, width, gap=4)
    qr = io.BytesIO()
    segno.make(url, error="m").save(qr, kind="png", scale=8, border=2)
    size = 38
    document.image(qr, x=(document.w - size) / 2, y=document.h - 80, w=size, h=size)
    document.set_xy(20, document.h - 38)
    _line(document, verify, 10, "", MUTED, width)
    document.set_font("DejaVu", "", 10)
    document.set_text_color(*heading)
    document.cell(width, 6, url, link=url, align="C", new_x="LMARGIN", new_y="NEXT")
    return bytes(document.output())


def _rgb(colour):
    return tuple(int(colour[i:i + 2], 16) for i in (1, 3, 5))


def _line(document, text, size, style, colour, width, gap=2):
    """One centred line of text, wrapped when long, then a gap."""
    document.set_x(20)
    document.set_font("DejaVu", style, size)
    document.set_text_color(*colour)
    document.multi_cell(width, size * 0.5, text, align="C", new_x="LMARGIN", new_y="NEXT")
    document.ln(gap)
