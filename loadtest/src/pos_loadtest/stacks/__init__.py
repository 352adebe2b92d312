"""Stacks: the sets of running processes a measurement runs against, started and stopped as
one, and cart's code of an older git ref run side by side with today's in the same session."""
