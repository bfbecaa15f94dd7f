"""Counter stores: Redis (one EVALSHA per request) and the bounded in-process fallback."""
