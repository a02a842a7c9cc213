"""Domain records to and from store documents: one module per collection."""
