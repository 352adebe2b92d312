"""Development tooling: run SecantusDB, master-data and cart as local processes, load demo data.

Used by scripts/start.sh, the tests and the load-test runner, so that all three start the
services the same way. Not shipped in any service image.
"""
