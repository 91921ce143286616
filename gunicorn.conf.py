"""gunicorn settings read from the working directory (`gunicorn wsgi:app`, `make run`)."""
import gc


def post_worker_init(worker):
    # Everything loaded so far (the app, its modules, mappers, templates) lives as long as the worker:
    # moved out of the collector's reach, so a full collection during a request (one per large push,
    # ~50-150 ms) no longer walks it.
    gc.freeze()
