"""Settings → People: invite by email with a role, change a role, remove; and the page an
invitation's link opens, where the invited person sets a password and joins."""

from flask import Blueprint, abort, flash, redirect, render_template, request, session, url_for
from flask_login import current_user, login_user

import audit
import jobs
from forms import InviteForm, PasswordForm, RoleForm
from models import db, write_lock
from models.states import TokenPurpose
from models.types import utcnow
from models.words import ROLE_WORDS
from team import links, people
from validation import InvalidInput

bp = Blueprint("people", __name__)


def _page(invite=None, status=200):
    return render_template("settings/people.html", people=people.of_org(current_user.org_id),
                           invite=invite or InviteForm(formdata=None), words=ROLE_WORDS,
                           role_form=RoleForm), status


@bp.get("/settings/people/")
def index():
    """The organization's people and their roles."""
    return _page()


@bp.post("/settings/people/")
def invite():
    """Add a person with a role; the invitation goes out through the queue."""
    form = InviteForm()
    if form.validate_on_submit():
        try:
            person = people.invite(current_user.org_id, form.email.data, form.role.data,
                                   current_user)
        except (InvalidInput, people.Conflict) as error:
            form.email.errors = [str(error)]
        else:
            jobs.commit()
            flash(f"Invited {person.email} as {person.role}: the invitation's link works "
                  "for 7 days.")
            return redirect(url_for("people.index"))
    return _page(form, 422 if form.errors else 200)


def _person(user_id):
    return people.find(current_user.org_id, user_id) or abort(404)


@bp.post("/settings/people/<int:user_id>/role")
def change_role(user_id):
    """Give a person another role (the last owner stays one)."""
    person, form = _person(user_id), RoleForm()
    if not form.validate_on_submit():
        abort(400)
    try:
        people.change_role(person, form.role.data)
    except people.Conflict as error:
        flash(str(error), "error")
        return _page(status=409)
    db.session.commit()
    flash(f"{person.email} is {'an' if person.role != 'viewer' else 'a'} {person.role} now.")
    return redirect(url_for("people.index"))


@bp.post("/settings/people/<int:user_id>/remove")
def remove(user_id):
    """Remove a person: their sessions and keys end at once (the last owner stays)."""
    person = _person(user_id)
    try:
        people.remove(person)
    except people.Conflict as error:
        flash(str(error), "error")
        return _page(status=409)
    db.session.commit()
    flash(f"Removed {person.email}: their sessions and API keys stopped working.")
    if person.id == current_user.id:
        return redirect(url_for("auth.login"))
    return redirect(url_for("people.index"))


def set_password_page(text, purpose, title):
    """The form an emailed link opens: a new password, then logged in (every other
    session of the person ended)."""
    if request.method == "POST":
        write_lock()  # SQLite: the change reads first; no other writer may come between
    try:
        token = links.find(text, purpose)
    except links.LinkNotValid as error:
        return render_template("auth/link_not_valid.html", message=str(error),
                               purpose=purpose), 410
    form, person = PasswordForm(), token.user
    if form.validate_on_submit():
        person.set_password(form.password.data)
        person.end_sessions()
        person.joined_at = person.joined_at or utcnow()
        links.use(token)
        audit.record("person.join" if purpose == TokenPurpose.INVITATION else "password.reset",
                     person=person)
        db.session.commit()
        db.session.refresh(person)
        session.clear()
        login_user(person)
        flash(f"Welcome to {person.org.name}." if purpose == TokenPurpose.INVITATION
              else "Your password is changed; every other session of yours has ended.")
        return redirect(url_for("credentials.index"))
    return render_template("auth/set_password.html", form=form, person=person,
                           title=title), 422 if form.errors else 200


@bp.route("/invitations/<text>", methods=["GET", "POST"])
def accept(text):
    """An invitation's link: set a password and join."""
    return set_password_page(text, TokenPurpose.INVITATION, "Join your organization")
