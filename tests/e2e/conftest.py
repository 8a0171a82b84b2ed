"""The end-to-end tier: one stack for the session, as `maas up` runs it, on free ports."""

import pytest

from maas.demo import run_demo
from maas.stack import SERVICES, LocalStack


@pytest.fixture(scope="session")
def stack(tmp_path_factory):
    stack = LocalStack.on_free_ports(tmp_path_factory.mktemp("stack"), extra_env={"MAAS_ADMIN_KEY": "maas_admin_e2e"})
    stack.start(timeout=120)
    yield stack
    codes = stack.stop()
    # Every service drained and exited on SIGTERM by itself.
    assert codes == dict.fromkeys(SERVICES, 0), codes


@pytest.fixture(scope="session")
def journey(stack):
    return run_demo(stack.address("gateway"), stack.admin_key, epochs=15, tenant="e2e")
