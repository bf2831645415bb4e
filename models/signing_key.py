"""An organization's keys for signing its Open Badges: the newest signs, the older ones stay
published so that what they signed can still be checked (openbadges.keys)."""

from datetime import datetime

import sqlalchemy as sa
import sqlalchemy.orm as so

from models import db
from models.types import UTCDateTime, utcnow


class SigningKey(db.Model):
    __tablename__ = "signing_keys"
    __table_args__ = (sa.UniqueConstraint("org_id", "number"),)

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    org_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("organizations.id"), index=True)
    number: so.Mapped[int] = so.mapped_column()  # its key id: <issuer id>#key-<number>
    algorithm: so.Mapped[str] = so.mapped_column(sa.String(10))  # the JOSE alg: EdDSA
    # The private key as PKCS#8 PEM, or encrypted with KEY_ENCRYPTION_KEY ("fernet:…").
    private_key: so.Mapped[str] = so.mapped_column(sa.Text)
    public_jwk: so.Mapped[dict] = so.mapped_column(sa.JSON)
    created_at: so.Mapped[datetime] = so.mapped_column(UTCDateTime, default=utcnow)

    def __repr__(self):
        return f"<SigningKey {self.org_id}#key-{self.number}>"
