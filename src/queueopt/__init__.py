"""queueopt: schedules content-moderation queues and assigns review tasks to human moderators."""

__version__ = "0.1.0"
