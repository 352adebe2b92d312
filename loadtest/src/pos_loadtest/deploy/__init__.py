"""Deploy checks that need the load tooling: the compose deployment run in real containers
and sold through (scripts/container_smoke.sh)."""
