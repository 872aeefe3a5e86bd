"""The HTTP service: FastAPI over the engine, with bearer-token roles, Prometheus metrics and a background assigner."""

from queueopt.service.app import create_app
from queueopt.service.settings import Settings

__all__ = ["Settings", "create_app"]
