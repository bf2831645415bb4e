"""A team per organization: who may do what (roles), its people, one-time links by
email, the audit log and single sign-on."""
