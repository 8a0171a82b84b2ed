"""Shared runtime of every MaaS service: settings, logging, metrics, errors and the gRPC bootstrap."""
