"""posctl: run a store's master data and terminals through the services' admin APIs."""
