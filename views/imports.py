"""Spreadsheet imports: upload, map the columns, see every problem, issue the good rows."""

import secrets
import unicodedata
from pathlib import Path

import sqlalchemy as sa
from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_login import current_user, login_required
from werkzeug.exceptions import RequestEntityTooLarge

import audit
import jobs
from forms import ImportIssueForm, ImportMappingForm, ImportUploadForm
from importer import files, mapping
from importer.check import apply_fixes, drop_rows, folder, remove_file
from models import CredentialGroup, ImportJob, ImportRow, db
from views.errors import json_error, wants_json
from views.export import csv_response

bp = Blueprint("imports", __name__, url_prefix="/imports")
PER_PAGE = 100
CHUNK = 1 << 16


def import_or_404(import_id):
    """The organization's import, or 404 (also for another organization's)."""
    job = db.session.scalar(sa.select(ImportJob).where(
        ImportJob.id == import_id, ImportJob.org_id == current_user.org_id))
    if job is None:
        abort(404)
    return job


def _size(limit):
    return f"{limit / (1 << 20):.0f} MB" if limit >= 1 << 20 else f"{limit:,} bytes"


def _too_large_message():
    limit = current_app.config["IMPORT_MAX_BYTES"]
    return (f"The file is too large: imports take at most {_size(limit)}. Split it into "
            "smaller files, or leave out columns the import does not use.")


@bp.app_errorhandler(RequestEntityTooLarge)
def too_large(error):
    """A body over its route's limit: say so plainly (JSON under /api/)."""
    if wants_json():
        return json_error(413, "The request body is too large.")
    if request.endpoint == "imports.upload":
        return _index(ImportUploadForm(formdata=None), [_too_large_message()], 413)
    return "The request is too large.\n", 413, {"Content-Type": "text/plain; charset=utf-8"}


def _index(form, errors=(), status=200):
    jobs = db.session.scalars(
        sa.select(ImportJob).where(ImportJob.org_id == current_user.org_id)
        .order_by(ImportJob.id.desc()).limit(20)).all()
    form.file.errors = list(form.file.errors or []) + list(errors)
    return render_template("imports/index.html", form=form, jobs=jobs), status


@bp.get("")
@login_required
def index():
    """The upload form and the organization's recent imports."""
    return _index(ImportUploadForm())


@bp.post("")
@login_required
def upload():
    """Keep the file, learn its header and propose a mapping (a workbook's in the
    background); problems found in the request come back at once."""
    limit = current_app.config["IMPORT_MAX_BYTES"]
    if (request.content_length or 0) > limit + CHUNK:  # refused before the body is read
        return _index(ImportUploadForm(formdata=None), [_too_large_message()], 413)
    form = ImportUploadForm()
    if not form.validate_on_submit():
        return _index(form, status=422)
    filename = _display_name(form.file.data.filename)
    stored_as = secrets.token_hex(16) + (".xlsx" if filename.lower().endswith(".xlsx")
                                         else ".csv")
    path = folder() / stored_as
    if not _save(form.file.data.stream, path, limit):
        return _index(form, [_too_large_message()], 413)
    try:
        fields = _read_upload(path, filename)
    except files.FileError as error:
        path.unlink(missing_ok=True)
        return _index(form, [str(error)], 422)
    job = ImportJob(org_id=current_user.org_id, user_id=current_user.id, filename=filename,
                    stored_as=stored_as, **fields)
    db.session.add(job)
    audit.record("import.upload", changes={"file": filename})
    jobs.commit()
    return redirect(url_for(".show", import_id=job.id))


def _read_upload(path, filename):
    """The new import's fields: a CSV file is read now (streamed, memory stays flat); a
    workbook's zip directory is checked now and the workbook read by the background job,
    as openpyxl needs time and memory for a large one."""
    if files.kind_of(path, filename) == "xlsx":
        return {"kind": "xlsx", "state": "reading", "columns": [], "sample": []}
    return mapping.proposal(files.inspect(path, "csv", current_app.config["IMPORT_MAX_ROWS"]))


def _display_name(filename):
    """The uploaded file's name for display only (it is never used as a path)."""
    name = "".join(ch for ch in Path(filename or "").name
                   if unicodedata.category(ch)[0] != "C")
    return name.strip()[:200] or "upload"


def _save(stream, path, limit):
    """Copy the upload to path; False (and nothing kept) when it is over the limit."""
    written = 0
    with open(path, "wb") as out:
        while chunk := stream.read(CHUNK):
            written += len(chunk)
            if written > limit:
                break
            out.write(chunk)
    if written > limit:
        path.unlink(missing_ok=True)
        return False
    return True


@bp.get("/<int:import_id>")
@login_required
def show(import_id):
    """The import at its current step: mapping, progress, preview or result."""
    job = import_or_404(import_id)
    groups = CredentialGroup.for_org(current_user.org_id)
    context = {"job": job}
    if job.state == "mapping":
        context["form"] = _mapping_form(job, groups)
    elif job.state in ("checked", "done"):
        context.update(_preview(job, request.args.get("page", "1")))
        if job.state == "checked":
            context["form"] = ImportIssueForm()
    return render_template("imports/show.html", **context)


def _mapping_form(job, groups, formdata=None):
    form = ImportMappingForm(job, groups, formdata=formdata)
    if formdata is None:
        for field, index in ((form.name_col, job.name_col), (form.email_col, job.email_col),
                             (form.group_col, job.group_col)):
            field.data = "" if index is None else str(index)
        group = next((g for g in groups if g.name == job.default_group), None)
        if group is None and groups and job.group_col is None:
            group = max(groups, key=lambda g: g.id)  # the group created last, as on Issue
        form.group_id.data = str(group.id) if group else ""
    return form


def _preview(job, page):
    """The problem rows (a page of them), possible typos and rows without an address."""
    page = int(page) if page.isdigit() and 0 < int(page) < 100_000 else 1
    rows = ImportRow.import_id == job.id
    problems = db.session.scalars(
        sa.select(ImportRow).where(rows, ImportRow.problem_kind.is_not(None))
        .order_by(ImportRow.line).limit(PER_PAGE).offset((page - 1) * PER_PAGE)).all()
    good = sa.and_(rows, ImportRow.problem_kind.is_(None))
    typos = db.session.scalars(sa.select(ImportRow).where(good, ImportRow.suggestion.is_not(None))
                               .order_by(ImportRow.line).limit(PER_PAGE)).all()
    typo_count = db.session.scalar(sa.select(sa.func.count()).where(
        good, ImportRow.suggestion.is_not(None)))
    fixed = db.session.scalars(sa.select(ImportRow).where(good, ImportRow.fixed_from.is_not(None))
                               .order_by(ImportRow.line).limit(PER_PAGE)).all()
    no_email = db.session.scalar(sa.select(sa.func.count()).where(good, ImportRow.email.is_(None)))
    return {"problems": problems, "page": page,
            "pages": max(1, -(-job.problem_rows // PER_PAGE)), "typos": typos,
            "typo_count": typo_count, "fixed": fixed, "no_email": no_email}


@bp.get("/<int:import_id>/progress")
@login_required
def progress(import_id):
    """The progress bar, polled by htmx; once the work is done the page reloads itself."""
    job = import_or_404(import_id)
    response = Response(render_template("imports/_progress.html", job=job))
    if not job.running:
        response.headers["HX-Refresh"] = "true"
    return response


def import_ready_for(import_id, state):
    """The organization's import when it may move to state now; else the answer to a
    stale page: a redirect to where the import stands."""
    job = import_or_404(import_id)
    if not job.can_move(state):
        flash("That step is over for this import; here is where it stands now.", "error")
        abort(redirect(url_for(".show", import_id=job.id)))
    return job


@bp.post("/<int:import_id>/mapping")
@login_required
def save_mapping(import_id):
    """Keep the mapping and check every row in the background."""
    job = import_ready_for(import_id, "checking")
    form = _mapping_form(job, CredentialGroup.for_org(current_user.org_id), request.form)
    if not form.validate():
        return render_template("imports/show.html", job=job, form=form), 422
    job.start_check(form.column(form.name_col), form.column(form.email_col),
                    form.column(form.group_col), form.group_name or None)
    jobs.commit()
    return redirect(url_for(".show", import_id=job.id))


@bp.post("/<int:import_id>/remap")
@login_required
def remap(import_id):
    """Back to the mapping (the checked rows are dropped; the file is read again)."""
    job = import_ready_for(import_id, "mapping")
    drop_rows(job.id)
    job.back_to_mapping()
    db.session.commit()
    return redirect(url_for(".show", import_id=job.id))


@bp.post("/<int:import_id>/fixes")
@login_required
def fix(import_id):
    """Use the suggested address on one line, or on every line that has one."""
    job = import_ready_for(import_id, "issuing")  # fixes apply to a checked import only
    line = request.form.get("line", "")
    changed = apply_fixes(job, int(line) if line.isdigit() else None)
    db.session.commit()
    flash(f"Used the suggested address on line {line}." if line.isdigit() and changed else
          f"Used the suggested address on {changed:,} lines." if changed else
          "There was no suggestion to use.")
    return redirect(url_for(".show", import_id=job.id, _anchor="typos"))


@bp.post("/<int:import_id>/issue")
@login_required
def issue(import_id):
    """Issue every good row in the background, all at once or not at all."""
    job = import_ready_for(import_id, "issuing")
    form = ImportIssueForm()
    if not job.good_rows:
        flash("No row can be issued: fix the file and upload it again.", "error")
        return redirect(url_for(".show", import_id=job.id))
    if not form.validate_on_submit():
        context = _preview(job, "1")
        return render_template("imports/show.html", job=job, form=form, **context), 422
    job.start_issuing(form.action.data,
                      form.scheduled_at.data if form.action.data == "schedule" else None,
                      form.send_email.data)
    audit.record("import.issue", changes={"file": job.filename, "rows": job.good_rows,
                                          "action": form.action.data,
                                          "send_email": form.send_email.data})
    jobs.commit()
    return redirect(url_for(".show", import_id=job.id))


@bp.post("/<int:import_id>/discard")
@login_required
def discard(import_id):
    """Drop an import that was not issued (its rows and file); issued credentials stay."""
    job = import_or_404(import_id)
    if job.running:
        flash("The import is being worked on; wait for this step to finish.", "error")
        return redirect(url_for(".show", import_id=job.id))
    remove_file(job.stored_as)
    drop_rows(job.id)
    db.session.delete(job)
    audit.record("import.discard", changes={"file": job.filename})
    db.session.commit()
    flash(f"Removed the import of {job.filename}.")
    return redirect(url_for(".index"))


@bp.get("/<int:import_id>/problems.csv")
@login_required
def problems_csv(import_id):
    """Every refused row with its line and reason, to fix in the spreadsheet."""
    job = import_or_404(import_id)
    query = (sa.select(ImportRow).where(ImportRow.import_id == job.id,
                                        ImportRow.problem_kind.is_not(None))
             .order_by(ImportRow.line).execution_options(yield_per=1000))
    return csv_response(f"import-{job.id}-problems.csv",
                        ["line", "name", "email", "group", "problem"],
                        lambda: ((r.line, r.name, r.email, r.group_name, r.problem_text)
                                 for r in db.session.scalars(query)))
