"""Shared code of the POS services.

Everything both services need in one place, one way each: settings, the response envelope and
error handling, MongoDB access, service-to-service auth, pooled gRPC channels and HTTP clients,
request-scoped observability, and the generated gRPC stubs (pos_commons.grpc_stubs).
"""
