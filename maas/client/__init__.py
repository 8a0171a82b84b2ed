"""Python SDK for MaaS: typed calls over the gateway's gRPC API, numpy in and out."""

from maas.client.client import MaasClient, MaasError, Prediction

__all__ = ["MaasClient", "MaasError", "Prediction"]
