"""The languages recipients read (Flask-Babel): each group picks one for its emails, pages
and certificates; the public page follows the visitor's browser when it asks for one of
them. Issuer pages stay in English."""

from flask import g, request
from flask_babel import Babel, force_locale, format_date, get_locale, refresh

from validation import InvalidInput

# Code: the language's own name. Catalogs in translations/ (compiled by make: pybabel).
LANGUAGES = {"en": "English", "fr": "Français", "de": "Deutsch", "es": "Español",
             "pt": "Português", "nl": "Nederlands"}
DEFAULT = "en"
# British English writes dates as the others do: day, month, year.
LOCALES = {**{code: code for code in LANGUAGES}, "en": "en_GB"}

babel = Babel()


def N_(text):
    """Marks text for the catalogs (pybabel extract); it is translated where it is used."""
    return text


def _selected():
    return g.get("locale", LOCALES[DEFAULT])


def init_app(app):
    babel.init_app(app, locale_selector=_selected)
    # The language spoken now (a forced one too, in an email), as HTML's lang names it.
    app.jinja_env.globals["html_lang"] = lambda: str(get_locale()).replace("_", "-")


def use(code):
    """Speak this language for the rest of the request."""
    g.locale = LOCALES.get(code, LOCALES[DEFAULT])
    refresh()


def visitors():
    """The language the visitor's browser asks for first among ours, or None."""
    return request.accept_languages.best_match(LANGUAGES)


def speaking(code):
    """A block in this language (an email composed outside any request)."""
    return force_locale(LOCALES.get(code, LOCALES[DEFAULT]))


def date(moment):
    """A date as the language writes it: 7 December 2026, 7 décembre 2026."""
    return format_date(moment, "long") if moment else ""


def clean_language(value):
    """One of our language codes."""
    if value not in LANGUAGES:
        raise InvalidInput("language must be one of " + ", ".join(LANGUAGES) + ".")
    return value
