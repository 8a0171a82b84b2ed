"""The SDK's public surface reads well in an IDE: every public name and method has a docstring
and annotated parameters and return."""

import inspect

import pytest

import maas.client
from maas.client import MaasClient

PUBLIC = [(name, f) for name, f in inspect.getmembers(MaasClient, inspect.isfunction) if not name.startswith("_")]


def test_the_package_exports_what_the_reference_documents():
    assert set(maas.client.__all__) == {"MaasClient", "MaasError", "Prediction"}
    for name in maas.client.__all__:
        assert (getattr(maas.client, name).__doc__ or "").strip(), name


@pytest.mark.parametrize(("name", "method"), PUBLIC, ids=[name for name, _ in PUBLIC])
def test_every_public_method_has_a_docstring_and_annotations(name, method):
    assert (method.__doc__ or "").strip(), f"MaasClient.{name} has no docstring"
    signature = inspect.signature(method)
    parameters = list(signature.parameters.values())[1:]
    missing = [p.name for p in parameters if p.annotation is inspect.Parameter.empty]
    assert not missing, f"MaasClient.{name}: parameters without a type: {missing}"
    assert signature.return_annotation is not inspect.Signature.empty, f"MaasClient.{name} has no return type"
