"""Shared code of the POS services.

Everything both services need in one place, one way each: settings, the response envelope and
error handling, MongoDB access, service-to-service auth, request-scoped observability, the
generated gRPC stubs (pos_commons.grpc_stubs) and the error-code trailer both ends of a gRPC
call agree on (pos_commons.grpc_trailers). What only one service uses lives in that service:
master-data's gRPC server plumbing, cart's pooled gRPC channels and HTTP clients.
"""
