"""The core: rates, algorithms, keys, policies, decisions, problems and the event bus.

Pure Python and Django's request types only: no Redis, no ORM, no settings reads. Everything above
builds on these.
"""
