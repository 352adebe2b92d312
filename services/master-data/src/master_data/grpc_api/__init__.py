"""master-data's gRPC API: ItemService and PaymentMethodService over grpc.aio."""
