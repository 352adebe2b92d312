"""The locust HTTP-vs-gRPC comparison: modes interleaved over rounds on one stack, each run
measured on the same window (requests, latency, CPU, database operations, lookups)."""
