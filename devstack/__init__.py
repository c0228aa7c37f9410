"""The local stack (`make run`): moto in its own process, the event pump, the provider simulators, shared test helpers.

Development only: never imported by `app.py` or `chalicelib/`, so `chalice package` never ships it.
"""
