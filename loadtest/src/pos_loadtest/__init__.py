"""Load tests and benchmarks: the locust scenario, the HTTP-vs-gRPC comparison and its report,
and micro-benchmarks of master-data and of cart's two item repositories against bare baselines.
"""
