"""`maas admin` on a real gateway: every limit of a plan, an invitation a new owner registers with."""

import json

import httpx

from maas.cli import main
from tests.integration.gateway_stack import ADMIN_KEY, gateway_stack
from tests.integration.test_gateway_rest import http_port


def test_plan_limits_from_the_command_line(data_dir, monkeypatch, tmp_path, capsys):
    monkeypatch.setenv("MAAS_CONFIG_DIR", str(tmp_path / "config"))
    with gateway_stack(data_dir) as stack:
        connection = ["--endpoint", stack.gateway.address, "--api-key", ADMIN_KEY]
        argv = ["admin", "plans", "create", "lab", "--training-seconds-per-month", "3600", "--stored-bytes", "1000"]
        assert main([*argv, "--predictions-per-day", "5", "-o", "json", *connection]) == 0
    plan = json.loads(capsys.readouterr().out)
    assert (plan["name"], plan["training_seconds_per_month"], plan["stored_bytes"], plan["predictions_per_day"]) == (
        "plans/lab",
        "3600",
        "1000",
        "5",
    )


def test_an_operator_invites_the_first_owner_of_its_tenant_and_resets_a_password(
    data_dir, monkeypatch, tmp_path, capsys
):
    monkeypatch.setenv("MAAS_CONFIG_DIR", str(tmp_path / "config"))
    with gateway_stack(data_dir, password_scrypt_n=2**14) as stack:
        connection = ["--endpoint", stack.gateway.address, "--api-key", ADMIN_KEY]
        assert main(["admin", "tenants", "create", "acme", *connection]) == 0
        capsys.readouterr()
        assert main(["admin", "invitations", "create", "acme", "--role", "owner", "-o", "json", *connection]) == 0
        token = json.loads(capsys.readouterr().out)["token"]
        # Self-service registration is off (the default), but the invitee can register.
        account = {"email": "ada@example.com", "password": "correct horse battery staple", "invitationToken": token}
        with httpx.Client(base_url=f"http://127.0.0.1:{http_port(stack.gateway)}") as http:
            registered = http.post("/v1/accounts:register", json=account)
            assert registered.json()["tenant"] == "tenants/acme" and registered.json()["role"] == "owner"
            assert http.post("/v1/accounts:register", json=account).status_code == 400  # used up
        # And resets the owner's password when it is forgotten.
        assert main(["admin", "passwords", "reset", "ada@example.com", "-o", "json", *connection]) == 0
        reset = {"token": json.loads(capsys.readouterr().out)["token"], "newPassword": "a brand new password"}
        with httpx.Client(base_url=f"http://127.0.0.1:{http_port(stack.gateway)}") as http:
            assert http.post("/v1/accounts:resetPassword", json=reset).status_code == 200
            signed_in = http.post("/v1/sessions", json={"email": "ada@example.com", "password": reset["newPassword"]})
            assert signed_in.status_code == 200
