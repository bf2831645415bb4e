"""Browser forms (Flask-WTF: CSRF on each); field rules come from validation.py."""

from datetime import UTC, datetime, timedelta

from flask import request
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import (
    BooleanField,
    ColorField,
    DateField,
    DateTimeLocalField,
    EmailField,
    HiddenField,
    IntegerField,
    PasswordField,
    RadioField,
    SelectChoice,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.validators import DataRequired, Length, NumberRange, Optional, ValidationError

import branding
import languages
import validation
from mailer import wording
from models.states import Role
from validation import InvalidInput


def rule(clean, **kwargs):
    """A WTForms validator applying a validation.py rule and keeping the cleaned value."""

    def check(form, field):
        try:
            field.data = clean(field.data, **kwargs)
        except InvalidInput as error:
            raise ValidationError(str(error)) from None

    return check


class Form(FlaskForm):
    """A browser form: it reads the request's form fields (and files) only. Flask-WTF
    would build its fields from a JSON body too, and fail on one that is not an object."""

    class Meta(FlaskForm.Meta):
        def wrap_formdata(self, form, formdata):
            # formdata not given (Flask-WTF's marker: not None, no getlist): read the request
            if formdata is not None and not hasattr(formdata, "getlist") and request.is_json:
                formdata = request.form  # empty: a JSON body is no form
            return super().wrap_formdata(form, formdata)


class LocalDateTimeField(DateTimeLocalField):
    """A datetime-local input whose empty value means "no time", not an error."""

    def process_formdata(self, valuelist):
        if valuelist and not valuelist[0].strip():
            self.data = None
            return
        super().process_formdata(valuelist)


class LoginForm(Form):
    email = EmailField("Email", validators=[DataRequired(), Length(max=254)])
    password = PasswordField("Password", validators=[DataRequired(), Length(max=200)])


ROLE_CHOICES = [SelectChoice(role.value, role.value.capitalize()) for role in Role]


class RoleForm(Form):
    """A person's or an API key's role."""

    role = SelectField("Role", choices=ROLE_CHOICES, default=Role.VIEWER.value)


class InviteForm(RoleForm):
    """Invite a person by email, with a role."""

    email = EmailField("Email address", validators=[rule(validation.clean_email)])


class PasswordForm(Form):
    """A new password (an invitation accepted, a reset)."""

    password = PasswordField("New password (at least 8 characters)",
                             validators=[rule(validation.clean_password)])


class ForgotForm(Form):
    email = EmailField("Email", validators=[DataRequired(), Length(max=254)])


class GroupPicker(Form):
    """An existing group of the organization, or a new one by name."""

    group_id = SelectField("Existing group", coerce=str, validate_choice=False)
    new_group = StringField("New group name")
    group_optional = False  # True where a group may be left out

    def __init__(self, groups, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.groups = {str(g.id): g for g in groups}
        if groups and not self.is_submitted() and not self.group_optional:
            # Issuers mostly add to the group they created last.
            self.group_id.data = str(max(groups, key=lambda g: g.id).id)
        self.group_id.choices = [SelectChoice("", "— choose a group —")] + [
            SelectChoice(str(g.id), g.name) for g in groups
        ] + [SelectChoice("new", "New group…")]

    @property
    def wants_new_group(self):
        if self.group_optional and not self.group_id.data and not self.groups:
            return bool((self.new_group.data or "").strip())
        return self.group_id.data == "new" or not self.groups

    @property
    def group_name(self):
        """The picked or new group's name, or None when none is picked."""
        if self.wants_new_group:
            return self.new_group.data
        group = self.groups.get(self.group_id.data)
        return group.name if group else None

    def validate_group_id(self, field):
        if self.wants_new_group or field.data in self.groups:
            return
        if not (self.group_optional and not field.data):
            raise ValidationError("Pick a group, or create a new one.")

    def validate_new_group(self, field):
        if self.wants_new_group:
            rule(validation.clean_text, what="Group name")(self, field)
        elif (field.data or "").strip():  # typed, but another choice would drop it unseen
            raise ValidationError("Pick “New group…” above to create this group, or clear "
                                  "the name to use the group picked.")


class WhenFields(Form):
    """Draft, publish now or schedule, and whether to send the email."""

    action = RadioField("Action", default="draft", choices=[
        SelectChoice("draft", "Save as draft"), SelectChoice("publish", "Publish now"),
        SelectChoice("schedule", "Schedule"),
    ])
    scheduled_at = LocalDateTimeField("Publish at", format="%Y-%m-%dT%H:%M",
                                      render_kw={"step": 60})
    # Minutes east of UTC from the browser, so a datetime-local means the issuer's time.
    utc_offset = HiddenField(default="0")
    send_email = BooleanField("Send email to recipient", default=True)

    def validate_scheduled_at(self, field):
        if self.action.data != "schedule":
            return
        field.data = scheduled_time(field.data, self.utc_offset.data)




class ImportIssueForm(WhenFields):
    """How to issue an import's good rows."""


class ImportUploadForm(Form):
    file = FileField("Spreadsheet", validators=[FileRequired("Choose a file to upload.")])


class ImportMappingForm(GroupPicker):
    """Which column holds the name, the email and the group, and the group of rows without
    one (required when the file has no group column)."""

    name_col = SelectField("Recipient name column", coerce=str, validate_choice=False)
    email_col = SelectField("Recipient email column", coerce=str, validate_choice=False)
    group_col = SelectField("Group column", coerce=str, validate_choice=False)
    group_optional = True

    def __init__(self, job, groups, *args, **kwargs):
        super().__init__(groups, *args, **kwargs)
        none = [SelectChoice("", "— not in the file —")]
        columns = [SelectChoice(str(i), label) for i, label in job.column_choices]
        for field in (self.name_col, self.email_col, self.group_col):
            field.choices = none + columns
        self.column_count = len(columns)

    def column(self, field):
        """The chosen column's index, or None."""
        return int(field.data) if field.data else None

    def _check_column(self, field):
        if field.data and not (field.data.isdigit() and int(field.data) < self.column_count):
            raise ValidationError("Pick one of the file's columns.")

    def validate_name_col(self, field):
        if not field.data:
            raise ValidationError("Pick the column that holds the recipients' names; the "
                                  "file needs one.")
        self._check_column(field)

    def validate_email_col(self, field):
        self._check_column(field)
        if field.data and field.data == self.name_col.data:
            raise ValidationError("The email cannot come from the name column.")

    def validate_group_col(self, field):
        self._check_column(field)
        if field.data and field.data in (self.name_col.data, self.email_col.data):
            raise ValidationError("The group must come from a column of its own.")

    missing_group = "The file has no group column: pick the group for its rows, or create one."

    def validate_group_id(self, field):
        if self.groups and not self.group_col.data and not self.group_name:
            raise ValidationError(self.missing_group)
        super().validate_group_id(field)

    def validate_new_group(self, field):
        # Without groups only the name field is shown: the message goes there.
        if not self.groups and not self.group_col.data and not (field.data or "").strip():
            raise ValidationError(self.missing_group)
        super().validate_new_group(field)


class ScheduleForm(Form):
    scheduled_at = LocalDateTimeField("Publish at", format="%Y-%m-%dT%H:%M",
                                      render_kw={"step": 60})
    utc_offset = HiddenField(default="0")
    send_email = BooleanField("Send email to recipient", default=True)

    def validate_scheduled_at(self, field):
        field.data = scheduled_time(field.data, self.utc_offset.data)


def optional(clean, **kwargs):
    """A rule for a field that may stay empty (None then)."""

    def check(form, field):
        if not (field.data or "").strip():
            field.data = None
            return
        rule(clean, **kwargs)(form, field)

    return check


class SenderForm(Form):
    sender_name = StringField("Sender name",
                              validators=[optional(validation.clean_text, what="Sender name")])
    sender_address = EmailField("Sender address", validators=[rule(validation.clean_email)])
    reply_to = EmailField("Reply-to address", validators=[rule(validation.clean_email)])


class RemindersForm(Form):
    reminder_after_days = IntegerField(
        "Remind after this many days unopened", validators=[Optional(), NumberRange(1, 365)])
    reminder_max = IntegerField("At most this many reminders",
                                validators=[Optional(), NumberRange(0, 10)])


class EmailForm(Form):
    recipient_email = EmailField("Email address", validators=[rule(validation.clean_email)])


class ResendForm(Form):
    force = BooleanField("Send even though this address bounced")


def scheduled_time(local, utc_offset):
    """The browser's local datetime as an aware UTC time in the future, or a ValidationError."""
    if local is None:
        raise ValidationError("Pick a date and time to publish.")
    try:
        minutes = int(utc_offset or 0)
    except ValueError:
        minutes = 0
    if not -16 * 60 <= minutes <= 16 * 60:
        minutes = 0
    aware = local.replace(tzinfo=UTC) - timedelta(minutes=minutes)
    try:
        return validation.clean_future_time(aware, datetime.now(UTC))
    except InvalidInput as error:
        raise ValidationError(str(error)) from None


class NameForm(Form):
    recipient_name = StringField("Recipient name", validators=[rule(validation.clean_text)])
    notify = BooleanField("Notify the recipient (send the email again)")


class RevokeForm(Form):
    reason = StringField("Reason (shown to anyone who checks the credential)",
                         validators=[rule(validation.clean_reason)])


class ExpiryForm(Form):
    """The day a credential expires (empty: never)."""

    expires_on = DateField("Expires on (empty: never)", validators=[Optional()])

    def validate_expires_on(self, field):
        if field.data and not 1970 <= field.data.year <= 9998:
            raise ValidationError("Pick a year from 1970 to 9998.")

    @property
    def expires_at(self):
        """The start of that day, UTC."""
        if self.expires_on.data is None:
            return None
        return datetime.combine(self.expires_on.data, datetime.min.time(), UTC)


class IssueForm(GroupPicker, WhenFields, ExpiryForm):
    recipient_name = StringField("Recipient name", validators=[rule(validation.clean_text)])
    recipient_email = EmailField("Recipient email (optional)",
                                 validators=[rule(validation.clean_email)])
    expires_on = DateField("Expires on (optional)", validators=[Optional()])


class MoveForm(Form):
    """Another group for a draft (one of the organization's)."""

    group_id = SelectField("Group", coerce=str, validate_choice=False)

    def __init__(self, groups, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.groups = {str(g.id): g for g in groups}
        self.group_id.choices = [SelectChoice(str(g.id), g.name) for g in groups]

    def validate_group_id(self, field):
        if field.data not in self.groups:
            raise ValidationError("Pick one of your groups.")


class NewGroupForm(Form):
    """A group made before its first credential (to set its language or email first)."""

    name = StringField("New group’s name", validators=[rule(validation.clean_text,
                                                           what="Group")])


class GroupForm(Form):
    """What a group's credentials award, as their Open Badge and certificate tell it."""

    description = TextAreaField("Description (what the achievement is)",
                                validators=[optional(validation.clean_description)])
    criteria = TextAreaField("Criteria (what a recipient did to earn it)",
                             validators=[optional(validation.clean_description,
                                                  what="Criteria")])
    validity_months = IntegerField("Valid for this many months (empty: for good)",
                                   validators=[Optional(), NumberRange(1, validation.VALIDITY_MAX)])
    image = FileField("Badge image (PNG or JPEG, at most 1 MB)")
    remove_image = BooleanField("Remove the badge image")
    language = SelectField("Language of its emails, pages and certificates",
                           choices=[SelectChoice(code, name)
                                    for code, name in languages.LANGUAGES.items()])
    email_subject = StringField("Email subject (empty: your organization’s)",
                                validators=[optional(wording.clean_subject)])
    email_message = TextAreaField("Email message (empty: your organization’s)",
                                  validators=[optional(wording.clean_message)])


class TemplateForm(Form):
    """The organization's email: a subject and a Markdown message with placeholders."""

    subject = StringField("Subject", validators=[rule(wording.clean_subject)])
    message = TextAreaField("Message", validators=[rule(wording.clean_message)])


class BrandForm(Form):
    """The organization's logo and colour, on its emails, pages and certificates."""

    logo = FileField("Logo (PNG or JPEG, at most 1 MB)")
    remove_logo = BooleanField("Remove the logo")
    colour = ColorField("Colour", validators=[rule(branding.clean_colour)])
