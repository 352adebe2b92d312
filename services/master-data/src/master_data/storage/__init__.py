"""MongoDB access of master-data: one collection per record type, per tenant database."""
