"""The floor of the whole cart service: a bare cart doing cart's database work with nothing
else (bare_cart.py, its sale on plain dicts in sale.py), kept to cart's commands, documents
and answers by tests/loadtest/test_floor_parity.py, and the runner that puts cart (over HTTP
and over gRPC) and it under the project's own locust load (runner.py, `pos-bench-floor`)."""
