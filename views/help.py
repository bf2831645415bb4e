"""Help pages: what each email status means and what to do about it."""

from flask import Blueprint, render_template

from models.status import EmailStatus

bp = Blueprint("help", __name__, url_prefix="/help")


@bp.get("/")
def index():
    return render_template("help/index.html", statuses=list(EmailStatus))
