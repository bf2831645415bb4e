"""Open Badges 3.0: every published credential as a signed OpenBadgeCredential that any
verifier can check with nothing but the URLs inside it (documents, signing, keys, status),
and the check the public page makes itself (verify)."""
