"""A credential's life after issuing: scheduled publishing and automatic reminders."""
