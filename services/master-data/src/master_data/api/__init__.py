"""master-data's HTTP API (FastAPI routers under /api/v1)."""
