"""Who may use each route: one table, checked before every request by views.access
(DESIGN.md, "A team per organization"). A route not in the table is refused to everyone,
so a route added without a rule cannot be used by mistake (and tests/test_roles.py fails
on it)."""

from flask_login import current_user

from models.states import Role

PUBLIC = "public"  # anyone: recipients, verifiers, mail providers, the login pages
VIEWER, ISSUER, OWNER = Role.VIEWER, Role.ISSUER, Role.OWNER
READ = ("GET", "HEAD", "OPTIONS")

# Endpoint: the lowest role allowed, or (to read, to change) where a route does both.
RULES = {
    # Anyone.
    "static": PUBLIC, "auth.login": PUBLIC, "auth.logout": PUBLIC, "health.healthz": PUBLIC,
    "health.metrics": PUBLIC, "provider_events.receive": PUBLIC,
    "tracking.credential": PUBLIC, "tracking.download": PUBLIC, "tracking.follow": PUBLIC,
    "tracking.linkedin": PUBLIC, "tracking.pixel": PUBLIC, "tracking.public": PUBLIC,
    "brand.badge_image": PUBLIC, "brand.logo": PUBLIC, "brand.stylesheet": PUBLIC,
    "openbadges.achievement": PUBLIC, "openbadges.credential_json": PUBLIC,
    "openbadges.credential_jwt": PUBLIC, "openbadges.issuer": PUBLIC,
    "openbadges.status_list": PUBLIC, "help.index": PUBLIC,
    "people.accept": PUBLIC, "passwords.forgot": PUBLIC, "passwords.reset": PUBLIC,
    "sso.start": PUBLIC, "sso.callback": PUBLIC, "unsubscribe.page": PUBLIC,
    "unsubscribe.unsubscribe": PUBLIC,
    # Read and export.
    "credentials.home": VIEWER, "credentials.index": VIEWER, "credentials.live": VIEWER,
    "credentials.detail": VIEWER, "credentials.row": VIEWER, "export.export": VIEWER,
    "analytics.index": VIEWER, "health.queue": VIEWER, "groups.index": VIEWER,
    "outbox.index": VIEWER, "outbox.show": VIEWER, "outbox.body": VIEWER,
    "api.index": VIEWER, "api.show": VIEWER, "api.events": VIEWER,
    "api.email_statuses": VIEWER, "api.group_stats": VIEWER, "api_groups.groups": VIEWER,
    # Issue, import, resend, revoke, nudge, groups and templates (and see the sender's state).
    "api_sender.sender": ISSUER,
    "issuing.new": ISSUER, "issuing.suggestion": ISSUER, "credentials.publish": ISSUER,
    "credentials.resend": ISSUER, "credentials.schedule": ISSUER,
    "credentials.change_email": ISSUER, "bulk.preview": ISSUER, "bulk.resend": ISSUER,
    "bulk.revoke": ISSUER, "bulk.revoke_preview": ISSUER, "corrections.delete": ISSUER,
    "corrections.expiry": ISSUER, "corrections.move": ISSUER,
    "corrections.reinstate": ISSUER, "corrections.rename": ISSUER,
    "corrections.revoke": ISSUER, "imports.index": ISSUER, "imports.upload": ISSUER,
    "imports.show": ISSUER, "imports.progress": ISSUER, "imports.save_mapping": ISSUER,
    "imports.remap": ISSUER, "imports.fix": ISSUER, "imports.issue": ISSUER,
    "imports.discard": ISSUER, "imports.problems_csv": ISSUER, "groups.create": ISSUER,
    "groups.edit": ISSUER, "email_template.index": ISSUER,
    "email_template.live_preview": ISSUER, "email_template.send_test": ISSUER,
    "settings.brand": ISSUER, "api.create": ISSUER, "api.create_bulk": ISSUER,
    "api.update": ISSUER, "api.publish": ISSUER, "api.resend": ISSUER,
    "api.revoke": ISSUER, "api.reinstate": ISSUER, "api.delete": ISSUER,
    "api_groups.create_group": ISSUER, "api_groups.change_group": ISSUER,
    "api_groups.organization_template": ISSUER, "api_groups.preview_template": ISSUER,
    "api_groups.organization_logo": ISSUER,
    # Everything: people, API keys, webhooks, sender and intake settings, the audit log.
    "settings.index": (ISSUER, OWNER), "settings.check_sender_domain": OWNER,
    "apikeys.index": OWNER, "apikeys.create": OWNER, "apikeys.revoke": OWNER,
    "webhook_settings.index": OWNER, "webhook_settings.create": OWNER,
    "webhook_settings.delete": OWNER, "webhook_settings.enable": OWNER,
    "webhook_settings.test": OWNER, "api_webhooks.index": OWNER,
    "api_webhooks.create": OWNER, "api_webhooks.delete": OWNER,
    "people.index": OWNER, "people.invite": OWNER, "people.change_role": OWNER,
    "people.remove": OWNER, "api_people.index": OWNER, "api_people.invite": OWNER,
    "api_people.change": OWNER, "api_people.remove": OWNER, "audit.index": OWNER,
    "api_people.audit_log": OWNER, "health.resume_sending": OWNER,
    "api_sender.resume_sending": OWNER,
}


def needed(endpoint, method):
    """The lowest role that may call the endpoint with the method; None: nobody (a route
    without a rule)."""
    rule = RULES.get(endpoint)
    if isinstance(rule, tuple):
        return rule[0] if method in READ else rule[1]
    return rule


def can(needed_role):
    """The person logged in may do what the role may (for templates: what to show)."""
    return current_user.is_authenticated and Role(current_user.role).allows(needed_role)
