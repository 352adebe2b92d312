"""The item cache and the catalog feeds that keep it current (USE_ITEM_CACHE)."""
