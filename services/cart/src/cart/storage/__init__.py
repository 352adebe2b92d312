"""cart's MongoDB collections: carts (versioned), transactions and receipt counters, terminals."""
