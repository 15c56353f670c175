"""The program-image database and the data sources (random programs, MNIST, DreamCoder tasks)."""
from .mnist import mnist
from .tasks import Task, dreamcoder_tasks

__all__ = ["Task", "dreamcoder_tasks", "mnist"]
