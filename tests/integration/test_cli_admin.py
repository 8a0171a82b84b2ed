"""`maas admin plans create` sets every limit of a plan on a real gateway."""

import json

from maas.cli import main
from tests.integration.gateway_stack import ADMIN_KEY, gateway_stack


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
