"""One adapter per port and technology. Heavy client libraries are imported inside these modules only."""
