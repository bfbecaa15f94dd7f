"""The operations side: metrics, persisted breaker events, the fleet control channel, the status
facts, operator actions and the most-limited clients. Subscribers of the event bus, wired in one
place (``install.py``), never in the decision path's way; the Django edge (admin page, management
command, metrics view) shows and drives them.
"""
