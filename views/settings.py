"""Organization settings: the sender of the delivery emails and its domain's verification,
automatic reminders, the daily limit."""

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required

import audit
import branding
import validation
from bounces import provider_events
from extensions import limiter
from forms import BrandForm, RemindersForm, SenderForm
from mailer import authentication, quota, sender_domains, signing
from models import IntakeStatus, db
from models.types import utcnow

bp = Blueprint("settings", __name__, url_prefix="/settings")
CHECKS_PER_MINUTE = "6 per minute"
SENDER_FIELDS = ("sender_name", "sender_address", "reply_to")


@bp.route("/", methods=["GET", "POST"])
@login_required
def index():
    """The sender of delivery emails, and automatic reminders."""
    org = current_user.org
    form = SenderForm(obj=org, prefix="sender")
    reminders = RemindersForm(obj=org, prefix="reminders")
    submitted = request.form.get("section")
    if submitted == "sender" and form.validate_on_submit():
        audit.record("settings.sender", changes=audit.changed(org, {
            name: getattr(form, name).data for name in SENDER_FIELDS}))
        form.populate_obj(org)
        org.sender_address_set()
        if org.sender_domain:  # its DKIM record can be published with the other
            signing.give_key(org, utcnow())
        db.session.commit()
        flash("Sender saved. New emails use it." if not org.sender_address
              or org.sender_verified else "Sender saved. Verify its domain below to send "
              "from it; until then emails go from our address with your name.")
        return redirect(url_for("settings.index"))
    if submitted == "reminders" and reminders.validate_on_submit():
        audit.record("settings.reminders", changes=audit.changed(org, {
            "reminder_after_days": reminders.reminder_after_days.data,
            "reminder_max": reminders.reminder_max.data or 0}))
        org.reminder_after_days = reminders.reminder_after_days.data
        org.reminder_max = reminders.reminder_max.data or 0
        db.session.commit()
        flash("Reminders saved." if org.reminder_after_days and org.reminder_max
              else "Automatic reminders are off.")
        return redirect(url_for("settings.index"))
    status = 422 if form.errors or reminders.errors else 200
    # Saved before domains were verified, or before they had DKIM keys.
    if org.sender_address and not (org.sender_domain_token and org.dkim_selector):
        org.sender_address_set()
        signing.give_key(org, utcnow())
        db.session.commit()
    return _page(org, status, form=form, reminders=reminders)


def _page(org, status, **forms):
    """The settings page with these forms as submitted, the others as stored."""
    forms.setdefault("form", SenderForm(obj=org, prefix="sender"))
    forms.setdefault("reminders", RemindersForm(obj=org, prefix="reminders"))
    forms.setdefault("brand", BrandForm(prefix="brand", colour=org.brand_colour
                                        or branding.DEFAULT_COLOUR))
    return render_template("settings/index.html", org=org, **forms,
                           default_sender=current_app.config["DEFAULT_SENDER"],
                           domains=sender_domains, quota=quota.usage(org.id),
                           records=authentication.report(org, current_app.config)
                           if org.sender_domain else None,
                           intake=intake()), status


@bp.post("/brand")
@login_required
def brand():
    """A new logo (checked and drawn again), its removal, and the colour."""
    org = current_user.org
    form = BrandForm(prefix="brand")
    upload = form.logo.data
    if form.validate_on_submit():
        try:
            if upload and upload.filename:
                branding.set_logo(org, upload.read(branding.LOGO_MAX_BYTES + 1))
            elif form.remove_logo.data and org.logo_png:
                branding.remove_logo(org)
        except validation.InvalidInput as error:
            form.logo.errors = [str(error)]
        else:
            colour = None if form.colour.data == branding.DEFAULT_COLOUR else form.colour.data
            audit.record("brand.change", changes={
                **audit.changed(org, {"brand_colour": colour}),
                **({"logo": "new" if upload and upload.filename else "removed"}
                   if (upload and upload.filename) or form.remove_logo.data else {})})
            branding.set_colour(org, colour)
            db.session.commit()
            flash("Brand saved: your emails, pages and certificates show it from now on.")
            return redirect(url_for("settings.index", _anchor="brand"))
    db.session.rollback()
    return _page(org, 422, brand=form)


@bp.post("/sender-domain/check")
@login_required
# Each check may hold a web worker for DNS_TIMEOUT_SECONDS: a few a minute per organization.
@limiter.limit(CHECKS_PER_MINUTE, key_func=lambda: f"org-{current_user.org_id}")
def check_sender_domain():
    """Look the sender domain's TXT record up now, and say what was found."""
    org = current_user.org
    if not org.sender_domain:
        flash("Nothing to check: save a sender address first.")
        return redirect(url_for("settings.index"))
    code = sender_domains.check(org, current_app.config)
    authentication.check(org, current_app.config)
    audit.record("settings.domain_check", changes={"domain": org.sender_domain,
                                                   "result": code,
                                                   "dkim": bool(org.dkim_found_at)})
    db.session.commit()
    if code == "verified":
        signed = "signed with your DKIM key" if org.dkim_found_at else \
            "not yet signed: publish the DKIM record"
        flash(f"{org.sender_domain} is verified. New emails come from {org.sender_address}, "
              f"{signed}.")
    else:
        flash(f"{org.sender_domain} is not verified: {sender_domains.CHECKS[code]}.")
    return redirect(url_for("settings.index", _anchor="sender-domain"))


def intake():
    """How bounces come back here: the envelope sender, the mailbox, each provider's events,
    with when each last worked (deployment-wide settings, shown to every issuer)."""
    config = current_app.config
    statuses = IntakeStatus.all()
    base = config["PUBLIC_BASE_URL"]
    return {
        "bounce_address": config.get("BOUNCE_ADDRESS"),
        "envelope": config["DEFAULT_SENDER"].address,
        "mailbox": {"host": config.get("BOUNCE_IMAP_HOST"), "port": config["BOUNCE_IMAP_PORT"],
                    "security": config["BOUNCE_IMAP_SECURITY"],
                    "user": config["BOUNCE_IMAP_USER"], "folder": config["BOUNCE_IMAP_FOLDER"],
                    "every": config["BOUNCE_POLL_SECONDS"], "status": statuses.get("mailbox")},
        "files": statuses.get("file"),
        "providers": [{"provider": provider, "name": name, "url": f"{base}/webhooks/{provider}",
                       "on": provider_events.enabled(provider), "status": statuses.get(provider),
                       "setting": setting}
                      for provider, name, setting in PROVIDERS],
        "ses_topics": config["SES_TOPIC_ARNS"],
    }


PROVIDERS = [  # (provider, name, the setting that switches it on)
    ("sendgrid", "SendGrid", "SENDGRID_WEBHOOK_PUBLIC_KEY"),
    ("mailgun", "Mailgun", "MAILGUN_WEBHOOK_SIGNING_KEY"),
    ("postmark", "Postmark", "POSTMARK_WEBHOOK_USER and POSTMARK_WEBHOOK_PASSWORD"),
    ("ses", "Amazon SES (through SNS)", "SES_WEBHOOK=1 and SES_TOPIC_ARNS"),
]
