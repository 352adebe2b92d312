#!/usr/bin/env bash
# Mutation testing of cart's pure domain (services/cart/src/cart/domain) with mutmut: each
# mutant runs against the pure unit tests that reach it (tests/unit/cart/test_pricing.py,
# test_operations.py, test_states.py, test_money_properties.py: no processes), one mutant
# per core at a time, then the score is printed. Not part of scripts/test.sh (CI): it takes
# a few minutes. Configuration: [tool.mutmut] in services/cart/pyproject.toml; known
# equivalent mutants: services/cart/mutation-equivalents.txt. Afterwards, from services/cart,
# `../../.venv/bin/mutmut show NAME` prints a mutant's diff (`browse` lists them all).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
scripts/setup.sh
cd services/cart

# A fresh run every time: mutmut's cache could keep verdicts given before the tests changed.
rm -rf mutants
mkdir mutants
# mutmut runs pytest from mutants/, where it copies the package: the tests are linked there.
ln -s ../../../tests mutants/tests

if [ -t 1 ]; then
    ../../.venv/bin/mutmut run --max-children "$(nproc)"
else
    # Not a terminal: its progress spinner would fill the output, so it goes to a log.
    echo "mutation: running mutmut (log: services/cart/mutants/run.log)" >&2
    ../../.venv/bin/mutmut run --max-children "$(nproc)" >mutants/run.log 2>&1 \
        || { tail -c 2000 mutants/run.log; exit 1; }
fi
echo
exec ../../.venv/bin/python ../../scripts/mutation_score.py
