"""Planning: from failing hosts to booked windows (reconcile, resolve owners, book, follow up)."""
