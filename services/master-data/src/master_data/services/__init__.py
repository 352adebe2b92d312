"""master-data's business rules, between the API layers (HTTP, gRPC) and storage (MongoDB)."""
