"""In-memory fakes of the ports in chalicelib/services/ports.py: same behaviour, same named errors, no I/O.

tests/contract/ runs one test class per port against each fake and against moto, so a fake cannot drift.
"""
