"""Groups: what each group's credentials award (the Open Badge's achievement) and how long
they stay valid."""

import sqlalchemy as sa
from flask import Blueprint, flash, redirect, render_template, url_for
from flask_login import current_user, login_required

import audit
import branding
import languages
from forms import GroupForm, NewGroupForm
from models import CredentialGroup, FunnelCount, db
from models.types import utcnow
from validation import InvalidInput

bp = Blueprint("groups", __name__, url_prefix="/groups")


@bp.before_request
@login_required
def require_login():
    """Issuers only."""


@bp.get("/")
def index(new=None):
    """The organization's groups with how many credentials each has."""
    counts = dict(db.session.execute(
        sa.select(FunnelCount.group_id, FunnelCount.n).where(
            FunnelCount.org_id == current_user.org_id, FunnelCount.stage == "credentials")).all())
    return render_template("groups/index.html", groups=CredentialGroup.for_org(
        current_user.org_id), counts=counts, languages=languages.LANGUAGES,
        new=new or NewGroupForm(formdata=None))


@bp.post("/")
def create():
    """Make a group by its name, then edit the rest of it."""
    form = NewGroupForm()
    if form.validate_on_submit():
        if not CredentialGroup.name_taken(current_user.org_id, form.name.data):
            group = CredentialGroup(org_id=current_user.org_id, name=form.name.data,
                                    created_at=utcnow())
            db.session.add(group)
            audit.record("group.create", changes={"name": group.name})
            db.session.commit()
            flash(f"Made {group.name}: set what it awards, its language and its email.")
            return redirect(url_for("groups.edit", group_id=group.id))
        form.name.errors = ["You have a group of that name already."]
    return index(form), 422


def _image_kept(group, form):
    """A new badge image (checked and drawn again), or its removal; False with the
    field's error when the file is not one."""
    upload = form.image.data
    try:
        if upload and upload.filename:
            branding.set_badge_image(group, upload.read(branding.LOGO_MAX_BYTES + 1))
        elif form.remove_image.data and group.image_width:
            branding.remove_badge_image(group)
    except InvalidInput as error:
        form.image.errors = [str(error)]
        return False
    return True


@bp.route("/<int:group_id>", methods=["GET", "POST"])
def edit(group_id):
    """A group's description, criteria and validity."""
    group = db.first_or_404(sa.select(CredentialGroup).where(
        CredentialGroup.org_id == current_user.org_id, CredentialGroup.id == group_id))
    form = GroupForm(obj=group)
    if form.validate_on_submit() and _image_kept(group, form):
        values = {"description": form.description.data or "", "criteria": form.criteria.data,
                  "validity_months": form.validity_months.data,
                  "language": form.language.data, "email_subject": form.email_subject.data,
                  "email_message": form.email_message.data}
        audit.record("group.change", changes={"group": group.name,
                                              **audit.changed(group, values)})
        for name, value in values.items():
            setattr(group, name, value)
        db.session.commit()
        flash(f"Saved {group.name}. Credentials published from now on are valid for "
              f"{group.validity_months} months." if group.validity_months else
              f"Saved {group.name}. Its credentials published from now on stay valid for good.")
        return redirect(url_for("groups.index"))
    return render_template("groups/edit.html", group=group, form=form), 422 if form.errors else 200
