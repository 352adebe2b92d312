"""cart's HTTP API under /api/v1."""
