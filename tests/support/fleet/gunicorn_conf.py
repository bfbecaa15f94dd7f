"""gunicorn settings of the fleet test: the recommended hook from docs/operations.md."""


def post_worker_init(worker: object) -> None:
    # In each worker, before it accepts a request: apply the standing fleet commands, so its
    # very first request already honours a force-open (the request path never reads the DB).
    from django_ratelimit_guard.ops import fleet

    fleet.sync()
