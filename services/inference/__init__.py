"""Inference service: the Open Inference Protocol over models from the registry."""
