"""Trainer service: training jobs, their queue, workers and progress."""
