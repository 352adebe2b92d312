"""Load tests, benchmarks and drills of the running services, by room:

comparison  the locust HTTP-vs-gRPC comparison (modes, scenario, measured runs, results) and
            the profiler that runs under its load
report      the comparison's report (Markdown, HTML, charts) and the statistics behind it
probes      what a measured window costs, read from outside the processes: CPU (psutil),
            /metrics (prometheus_client's parser), database operations
stacks      sets of running processes a measurement runs against (the comparison's, a durable
            database's) and cart's code of an older git ref run side by side with today's
benches     micro-benchmarks, each against its floor: bare servers doing no work
drills      failures under load: restarts, master-data outages, database kills, growing carts
deploy      the compose deployment checked end to end in real containers

loadtest/README.md maps each command to its module and what it measures.
"""
