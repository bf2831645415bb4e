"""An organization's brand: a real logo kept (drawn again) and shown in the email, the
pages and the PDF; what is not a logo refused with a clear message, within bounded memory;
the colour on the button, the pages and the certificate."""

import io
import struct
import subprocess
import sys
import textwrap
import zlib
from pathlib import Path

from conftest import issue
from PIL import Image
from pypdf import PdfReader
from werkzeug.datastructures import FileStorage
from werkzeug.test import encode_multipart

from mailer.compose import compose
from models import db

TESTS = Path(__file__).resolve().parent


def png(width=1200, height=300, colour=(200, 30, 30)):
    data = io.BytesIO()
    Image.new("RGB", (width, height), colour).save(data, "PNG")
    return data.getvalue()


def declared_png(width, height):
    """A tiny PNG file whose header declares width × height pixels."""
    def chunk(kind, data):
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header)
            + chunk(b"IDAT", zlib.compress(b"\x00" * 64)) + chunk(b"IEND", b""))


# Files that are not a logo, and what the issuer is told.
REFUSED = [("notes.png", b"just some text, named like a picture", "not a PNG or JPEG"),
           ("bomb.png", declared_png(100_000, 100_000), "too many pixels"),
           ("huge.png", png()[:100] + b"\0" * (3 << 20), "at most 1 MB"),
           ("cut.png", png()[:300], "damaged")]


def multipart(fields):
    """A multipart body as bytes (the test client would spool a large one to a temporary
    file that nothing closes) and its content type."""
    boundary, body = encode_multipart(fields)
    return {"data": body, "content_type": f"multipart/form-data; boundary={boundary}"}


def upload(api, name, data):
    return api.post("/api/v1/organization/logo",
                    **multipart({"file": FileStorage(io.BytesIO(data), name)}))


def test_a_real_logo_shows_in_the_email_the_pages_and_the_pdf(client, issuer, api):
    # A PNG with something after its end (a polyglot): only the pixels are kept.
    answer = upload(api, "logo.png", png() + b"<script>alert(1)</script>PK\x03\x04")
    assert answer.status_code == 200 and (answer.json["width"], answer.json["height"]) == (
        600, 150)
    served = client.get(answer.json["url"].removeprefix("http://127.0.0.1:5000"))
    assert served.status_code == 200 and served.mimetype == "image/png"
    assert b"<script>" not in served.data and Image.open(io.BytesIO(served.data)).size == (
        600, 150)

    credential = issue(issuer, name="Ada", action="publish")
    html = compose(credential.latest_message).html
    assert f'/brand/{issuer.org.public_id}/logo.png?v=1" alt="Acme Academy" width="300" ' \
           f'height="75"' in html
    for page in (f"/c/{credential.token}", f"/v/{credential.public_id}"):
        assert f'<img class="brand-logo" src="/brand/{issuer.org.public_id}/logo.png?v=1"' \
               in client.get(page).text
    reader = PdfReader(io.BytesIO(client.get(f"/c/{credential.token}.pdf").data))
    assert len(reader.pages[0].images) == 2  # the logo and the QR code


def test_what_is_not_a_logo_is_refused_and_names_the_field(issuer, api, logged_in):
    for name, data, says in REFUSED:
        answer = upload(api, name, data)
        assert answer.status_code == 422, name
        assert says in answer.json["error"]["fields"]["file"], name
        page = logged_in.post("/settings/brand", **multipart({
            "brand-logo": FileStorage(io.BytesIO(data), name), "brand-colour": "#2255aa"}))
        assert page.status_code == 422 and says in page.text, name
    db.session.rollback()
    assert issuer.org.logo_png is None and issuer.org.brand_version == 0


def test_refusing_them_keeps_the_web_process_small(tmp_path):
    """Each refusal in a fresh process; its peak memory (VmHWM: ru_maxrss would count the
    forking test process's own size, which Linux carries across exec) is what it
    measures."""
    script = textwrap.dedent(f"""
        import io, sys
        sys.path.insert(0, {str(TESTS)!r})
        from conftest import make_app, api_for, PASSWORD
        from test_branding import REFUSED, upload
        from accounts import create_user
        from pathlib import Path
        app = make_app(Path({str(tmp_path)!r}))
        with app.app_context():
            api = api_for(app.test_client(), create_user("a@b.test", "Org", PASSWORD))
            for name, data, _ in REFUSED:
                assert upload(api, name, data).status_code == 422
        status = Path("/proc/self/status").read_text()
        print(int(status.split("VmHWM:")[1].split()[0]) // 1024)
    """)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=120, cwd=TESTS.parent)
    assert done.returncode == 0, done.stderr[-2000:]
    peak_mb = int(done.stdout.split()[-1])
    assert peak_mb < 300, peak_mb


def test_the_colour_on_the_button_the_pages_and_the_certificate(client, issuer, logged_in):
    credential = issue(issuer, name="Ada", action="publish")
    assert "/brand.css" not in client.get(f"/v/{credential.public_id}").text  # ours
    assert logged_in.post("/settings/brand", data={"brand-colour": "#FFEE00"},
                          content_type="multipart/form-data").status_code == 302
    db.session.rollback()
    assert issuer.org.brand_colour == "#ffee00"
    page = client.get(f"/v/{credential.public_id}").text
    css_url = f"/brand/{issuer.org.public_id}/brand.css?v=1"
    assert css_url in page
    css = client.get(css_url).text
    # Yellow does not read on white: the heading stays ink, the button's text black.
    assert "border-top-color: #ffee00" in css and "h2 { color: var(--ink)" in css
    assert "color: #000000" in css
    html = compose(credential.latest_message).html
    assert "background:#ffee00;color:#000000;" in html
    assert logged_in.post("/settings/brand", data={"brand-colour": "yellow"},
                          content_type="multipart/form-data").status_code == 422
    assert client.get(f"/brand/{issuer.org.public_id}x/brand.css").status_code == 404


def test_a_groups_badge_image_is_its_open_badges_image(client, issuer, logged_in):
    credential = issue(issuer, name="Ada", action="publish")
    group_id = credential.group_id
    badge = client.get(f"/v/{credential.public_id}/credential.json").json
    assert "image" not in badge["credentialSubject"]["achievement"]
    refused = logged_in.post(f"/groups/{group_id}", **multipart({
        "image": FileStorage(io.BytesIO(b"not a picture"), "badge.png")}))
    assert refused.status_code == 422 and "not a PNG or JPEG" in refused.text
    saved = logged_in.post(f"/groups/{group_id}", **multipart({
        "image": FileStorage(io.BytesIO(png(800, 800)), "badge.png")}))
    assert saved.status_code == 302
    achievement = client.get(f"/v/{credential.public_id}/credential.json").json[
        "credentialSubject"]["achievement"]
    image = achievement["image"]
    assert image["type"] == "Image" and image["caption"] == "Course A"
    served = client.get(image["id"].removeprefix("http://127.0.0.1:5000"))
    assert served.mimetype == "image/png"
    assert Image.open(io.BytesIO(served.data)).size == (400, 400)
    assert logged_in.post(f"/groups/{group_id}", **multipart(
        {"remove_image": "y"})).status_code == 302
    assert client.get(image["id"].removeprefix("http://127.0.0.1:5000")).status_code == 404
