import pytest


@pytest.fixture
def cli_home(tmp_path, monkeypatch):
    """A private config dir for `maas` commands, with no connection settings from the environment."""
    for name in ("MAAS_API_KEY", "MAAS_ENDPOINT", "MAAS_TENANT", "XDG_CONFIG_HOME"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("MAAS_CONFIG_DIR", str(tmp_path / "config"))
    return tmp_path / "config"
