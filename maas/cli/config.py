"""What `maas login` saves (endpoint, API key, tenant) and how flags and the environment override it.

Order: a command-line flag, then `MAAS_ENDPOINT` / `MAAS_API_KEY` / `MAAS_TENANT` / `MAAS_CA_CERT`, then the saved
file `$MAAS_CONFIG_DIR/config.json` (default `$XDG_CONFIG_HOME/maas`, else `~/.config/maas`).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

from maas.cli.errors import CliError, not_logged_in
from maas.client import MaasClient

DEFAULT_ENDPOINT = "127.0.0.1:50051"
FIELDS = ("endpoint", "api_key", "tenant", "ca_cert")


def config_dir() -> Path:
    if os.environ.get("MAAS_CONFIG_DIR"):
        return Path(os.environ["MAAS_CONFIG_DIR"])
    return Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config") / "maas"


def config_path() -> Path:
    return config_dir() / "config.json"


def load() -> dict[str, str]:
    path = config_path()
    if not path.is_file():
        return {}
    try:
        saved = json.loads(path.read_text())
    except (OSError, ValueError) as error:
        raise CliError(f"cannot read {path} ({error}); run `maas login` again") from None
    if not isinstance(saved, dict):
        raise CliError(f"{path} is not a JSON object; run `maas login` again")
    return {k: str(v) for k, v in saved.items() if k in FIELDS and v}


def save(settings: dict[str, str]) -> Path:
    """Write the settings readable by the user alone (the file holds a secret)."""
    path = config_path()
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    temporary = path.with_name(path.name + ".tmp")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    # os.open's mode is masked by the umask, and an existing file keeps its mode: set it outright.
    os.fchmod(descriptor, 0o600)
    with os.fdopen(descriptor, "w") as file:
        json.dump({k: v for k, v in settings.items() if k in FIELDS and v}, file, indent=2)
        file.write("\n")
    temporary.replace(path)
    return path


@dataclass(frozen=True)
class Connection:
    endpoint: str
    api_key: str
    tenant: str = ""
    # A PEM file of the CA that signed the gateway's certificate (implies TLS).
    ca_cert: str = ""

    def client(self, timeout: float) -> MaasClient:
        if not self.ca_cert:
            return MaasClient(self.endpoint, self.api_key, timeout)
        try:
            ca = Path(self.ca_cert).read_bytes()
        except OSError as error:
            raise CliError(f"CA certificate {self.ca_cert}: {error.strerror}") from None
        return MaasClient(self.endpoint, self.api_key, timeout, ca_cert=ca)


def setting(name: str, flag: str | None, saved: dict[str, str]) -> str:
    """A flag's value, else `MAAS_<NAME>`, else the saved one ('' when none)."""
    return flag or os.environ.get(f"MAAS_{name.upper()}") or saved.get(name, "")


def resolve(
    endpoint: str | None, api_key: str | None, tenant: str | None = None, ca_cert: str | None = None
) -> Connection:
    """The connection a command uses; raises when there is no API key anywhere."""
    saved = load()
    connection = Connection(
        endpoint=setting("endpoint", endpoint, saved) or DEFAULT_ENDPOINT,
        api_key=setting("api_key", api_key, saved),
        tenant=setting("tenant", tenant, saved),
        ca_cert=setting("ca_cert", ca_cert, saved),
    )
    if not connection.api_key:
        raise not_logged_in()
    return connection
