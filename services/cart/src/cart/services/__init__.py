"""cart's application services: what each API call does, end to end."""
