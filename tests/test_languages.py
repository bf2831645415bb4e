"""The recipients' languages: every catalog translates every message with its placeholders
intact, and a French group's email, pages and certificate are in French (the public page
follows the visitor's language when it is one of ours)."""

import io
import re
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from babel.messages.pofile import read_po
from conftest import Auth, issue
from pypdf import PdfReader

from languages import LANGUAGES
from mailer.compose import compose
from models import CredentialGroup, db
from models.types import utcnow

ROOT = Path(__file__).resolve().parent.parent
PLACEHOLDER = re.compile(r"%\(\w+\)s|\{\w+\}")


def extracted(tmp_path):
    """The messages the code and templates use (pybabel extract, as a translator would)."""
    pot = tmp_path / "messages.pot"
    subprocess.run([Path(sys.executable).parent / "pybabel", "-q", "extract", "-F",
                    str(ROOT / "babel.cfg"), "-o", str(pot), str(ROOT)], check=True,
                   cwd=ROOT)
    with pot.open("rb") as file:
        return {message.id for message in read_po(file) if message.id}


@pytest.mark.parametrize("language", [code for code in LANGUAGES if code != "en"])
def test_every_message_is_translated_with_its_placeholders(language, tmp_path):
    wanted = extracted(tmp_path)
    assert len(wanted) >= 30
    with (ROOT / "translations" / language / "LC_MESSAGES" / "messages.po").open("rb") as file:
        catalog = read_po(file)
    translated = {message.id: message for message in catalog if message.id}
    assert wanted - set(translated) == set(), "not in the catalog"
    for msgid in wanted:
        message = translated[msgid]
        assert message.string and not message.fuzzy, msgid
        assert message.string != msgid or msgid in ("Download PDF",), msgid
        assert sorted(PLACEHOLDER.findall(message.string)) == sorted(
            PLACEHOLDER.findall(msgid)), msgid


def pdf_text(client, credential):
    reader = PdfReader(io.BytesIO(client.get(f"/c/{credential.token}.pdf").data))
    return " ".join(page.extract_text() for page in reader.pages)


def test_a_french_groups_email_pages_and_certificate(client, issuer, api):
    credential = issue(issuer, name="Zoé", group="Secourisme", action="publish")
    answer = api.patch(f"/api/v1/groups/{credential.group_id}", json={"language": "fr"})
    assert answer.status_code == 200 and answer.json["language"] == "fr"
    assert api.patch(f"/api/v1/groups/{credential.group_id}",
                     json={"language": "klingon"}).status_code == 422
    db.session.expire_all()
    mail = compose(credential.latest_message)
    assert mail.subject == "Votre certification : Secourisme"  # one line, plain spaces
    assert '<html lang="fr">' in mail.html and "Voir votre certification" in mail.html
    assert "Bonjour Zoé," in mail.body and "Ce lien est personnel." in mail.body
    month = ("janvier février mars avril mai juin juillet août septembre octobre novembre "
             "décembre").split()[credential.published_at.month - 1]

    page = client.get(f"/c/{credential.token}").text
    assert '<html lang="fr">' in page and "certifie que" in page and "Télécharger le PDF" in page
    assert f"Délivrée le {credential.published_at.day} {month}" in page
    public = client.get(f"/v/{credential.public_id}").text
    assert '<html lang="fr">' in public and "✓ Vérifiée\u00a0: Acme Academy" in public
    # The visitor's own language when it is one of ours, else the group's.
    german = client.get(f"/v/{credential.public_id}",
                        headers={"Accept-Language": "de-AT,de;q=0.9,en;q=0.5"}).text
    assert '<html lang="de">' in german and "Verifiziert: Acme Academy" in german
    other = client.get(f"/v/{credential.public_id}", headers={"Accept-Language": "ja"}).text
    assert '<html lang="fr">' in other
    assert "certifie que" in pdf_text(client, credential)
    assert f"Délivrée le {credential.published_at.day} {month}" in pdf_text(client, credential)


def test_english_stays_the_default(client, issuer, logged_in):
    credential = issue(issuer, name="Ada", action="publish")
    assert compose(credential.latest_message).subject == "Your credential: Course A"
    page = client.get(f"/c/{credential.token}").text
    assert '<html lang="en-GB">' in page and "certifies that" in page
    assert f"Issued {credential.published_at.day} " in page  # 7 December 2026
    assert '<html lang="en-GB">' in logged_in.get("/credentials").text


def test_a_failed_verdict_is_explained_in_the_visitors_language(client, issuer):
    credential = issue(issuer, name="Zoé", action="publish")
    credential.published_at = utcnow() + timedelta(days=2)  # signed as valid from then
    db.session.commit()
    for language, words in (("fr", "Non vérifiée\u00a0: Elle n’est pas encore valide."),
                            ("de", "Nicht verifiziert: Der Nachweis ist noch nicht gültig."),
                            ("en", "Not verified: It is not valid yet.")):
        page = client.get(f"/v/{credential.public_id}",
                          headers={"Accept-Language": language}).text
        assert words in page, language


def test_a_group_made_on_its_page_speaks_french_from_its_first_email(app, logged_in, issuer,
                                                                    rival):
    made = logged_in.post("/groups/", data={"name": "  Secourisme  "})
    assert made.status_code == 302
    group = db.session.scalar(sa.select(CredentialGroup).filter_by(name="Secourisme"))
    assert group.org_id == issuer.org_id and made.location.endswith(f"/groups/{group.id}")
    for name, why in (("Secourisme", "You have a group of that name already."),
                      ("  ", "Group")):
        refused = logged_in.post("/groups/", data={"name": name})
        assert refused.status_code == 422 and why in refused.text
    assert logged_in.post(f"/groups/{group.id}", data={"language": "fr"}).status_code == 302
    other = app.test_client()
    Auth(other).login(rival.email)
    assert "Secourisme" not in other.get("/groups/").text
    assert other.post("/groups/", data={"name": "Secourisme"}).status_code == 302  # its own
    db.session.rollback()
    credential = issue(issuer, name="Zoé", group="Secourisme", action="publish")
    assert credential.group_id == group.id
    assert compose(credential.latest_message).subject == "Votre certification : Secourisme"
