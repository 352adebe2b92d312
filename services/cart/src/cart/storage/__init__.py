"""cart's MongoDB collections: carts (versioned), transactions and receipt counters, terminals;
and the unit of work of a cart change around them (unit_of_work.py: the per-cart lock, the
cart cache, the versioned write with its conflict retry, the transaction of a close).

The databases are `cart_<tenant>` and `cart__system`; the collection names are cart's alone,
and deploy/mongo/roles.json grants cart's MongoDB user those names only
(tests/unit/privilege/test_mongo_roles.py keeps the two equal).
"""

DATABASE_PREFIX = "cart"
