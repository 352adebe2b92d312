"""cart's port to master-data: the interface (repository.py), an adapter per transport
(http_adapter.py, grpc_adapter.py), the failure table with the retry (failures.py), the factory
with the measurement (factory.py, tracing.py); and in feed/ the item cache and its feeds."""
