"""The cart's pure domain: the model, the state machine, pricing and the operations.

Nothing here does I/O: every rule can be tested with plain values.
"""
