"""cart's access to master-data: one repository interface, an HTTP and a gRPC implementation."""
