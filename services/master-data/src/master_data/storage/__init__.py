"""MongoDB access of master-data: one collection per record type, per tenant database.

The databases are `masterdata_<tenant>` and `masterdata__system`; the collection names are
master-data's alone, and deploy/mongo/roles.json grants master-data's MongoDB user those names
only (tests/unit/privilege/test_mongo_roles.py keeps the two equal).
"""

DATABASE_PREFIX = "masterdata"
