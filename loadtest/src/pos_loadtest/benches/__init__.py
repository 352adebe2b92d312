"""Micro-benchmarks: one piece of the services against its floor, a bare server (or client)
that does the same I/O and no work, in the same process set-up and session."""
