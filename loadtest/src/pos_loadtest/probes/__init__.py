"""Probes of a measured window, opened and closed on exactly the counted span: CPU of process
trees (psutil), figures of a service's /metrics (prometheus_client's parser), database
operations counted at the database."""
