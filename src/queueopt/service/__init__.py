"""The HTTP service: FastAPI over the engine, with bearer-token roles, Prometheus metrics and a background assigner.

`queueopt.service.app.create_app(Settings)` builds the app. Nothing is imported here, so the `queueopt` command,
which registers `serve` from `queueopt.service.commands`, starts without loading FastAPI or the engine.
"""
