"""The CLI and SDK against a gateway that serves TLS with a private CA's certificate."""

import pytest

from maas.cli import config, main
from tests.integration.test_tls import Authority, tls_gateway

ADMIN_KEY = "maas_admin_cli_tls"


@pytest.fixture
def gateway(data_dir, tmp_path):
    authority = Authority(tmp_path, "private-ca")
    with tls_gateway(data_dir, authority, ADMIN_KEY) as gateway:
        yield gateway.address, authority.pem


def test_login_with_a_private_ca_then_commands_over_tls(gateway, tmp_path, monkeypatch, capsys):
    address, ca = gateway
    for name in ("MAAS_API_KEY", "MAAS_ENDPOINT", "MAAS_TENANT", "MAAS_CA_CERT"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("MAAS_CONFIG_DIR", str(tmp_path / "config"))
    monkeypatch.chdir(ca.parent)
    login = ["login", "--endpoint", f"https://{address}", "--ca-cert", ca.name, "--api-key", ADMIN_KEY, "--no-verify"]
    assert main(login) == 0
    assert config.load()["ca_cert"] == str(ca), "saved absolute, for commands run elsewhere"
    monkeypatch.chdir(tmp_path)

    # Calls the gateway serves itself (no backends here).
    assert main(["admin", "tenants", "create", "acme"]) == 0
    assert main(["admin", "keys", "create", "acme", "-o", "json"]) == 0
    assert '"secret": "maas_' in capsys.readouterr().out

    # Without the saved CA: the system's roots do not know it, and plaintext is not TLS.
    monkeypatch.setenv("MAAS_CONFIG_DIR", str(tmp_path / "elsewhere"))
    for endpoint in (f"https://{address}", address):
        argv = ["admin", "tenants", "create", "b", "--endpoint", endpoint, "--api-key", ADMIN_KEY, "--timeout", "5"]
        assert main(argv) == 24
        assert f"maas: cannot reach MaaS at {endpoint}" in capsys.readouterr().err
