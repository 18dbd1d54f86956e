"""A trained network read back as a method: its coefficients (:mod:`.coefficients`) and the
method they define (:mod:`.method`), ready to certify."""
