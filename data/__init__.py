"""The program-image database and the data sources (random programs, MNIST, DreamCoder tasks)."""
from .mnist import mnist
from .tasks import Task, dreamcoder_tasks, laps_tasks

__all__ = ["Task", "dreamcoder_tasks", "laps_tasks", "mnist", "Database", "DatabaseError", "ReadOnlyError", "Entry", "InsertResult",
           "open_readonly", "random_programs", "image_distance", "same_image"]

_LAZY = {"Database": "db", "DatabaseError": "db", "ReadOnlyError": "db", "Entry": "db", "InsertResult": "db",
         "open_readonly": "db",
         "random_programs": "generate", "image_distance": "novelty", "same_image": "novelty"}


def __getattr__(name):
    # the database pulls in faiss and numba: import it only when asked for
    if name in _LAZY:
        import importlib
        return getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
    raise AttributeError(f"module 'data' has no attribute {name!r}")
