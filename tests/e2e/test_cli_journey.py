"""The CLI alone walks the journey: the exact command block of docs/cli.md, run against the
session's stack, then the readable errors for each refusal the gateway can give."""

import io
import json
import shlex
import stat
import string
from contextlib import redirect_stderr, redirect_stdout
from dataclasses import dataclass
from pathlib import Path

import pytest

from maas.cli import main

pytestmark = [pytest.mark.e2e, pytest.mark.slow]
DOC = Path(__file__).parents[2] / "docs" / "cli.md"


def documented_journey() -> list[str]:
    """The command lines of the bash block after the `<!-- journey:` marker in docs/cli.md."""
    block = DOC.read_text().split("<!-- journey:", 1)[1].split("```bash\n", 1)[1].split("```", 1)[0]
    return [line for line in block.splitlines() if line.strip()]


@dataclass
class Run:
    code: int
    out: str
    err: str


def maas(*argv: str) -> Run:
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        code = main(list(argv))
    return Run(code, out.getvalue(), err.getvalue())


def _ok(run: Run) -> Run:
    assert run.code == 0, run.err
    return run


@pytest.fixture(scope="module")
def journey(stack, tmp_path_factory):
    """A tenant on a plan of 718 prediction rows a day (two calls), made with `maas admin`; then the documented
    commands, in a fresh directory and config dir; returns what each printed."""
    workdir = tmp_path_factory.mktemp("cli")
    endpoint = stack.address("gateway")
    with pytest.MonkeyPatch.context() as env:
        for name in ("MAAS_API_KEY", "MAAS_ENDPOINT", "MAAS_TENANT"):
            env.delenv(name, raising=False)
        env.setenv("MAAS_CONFIG_DIR", str(workdir / "config"))
        env.chdir(workdir)
        admin = ("--endpoint", endpoint, "--api-key", stack.admin_key)
        # Predictions are counted in rows: two calls of the 359 held-out digits a day.
        _ok(maas("admin", "plans", "create", "cli-two", "--predictions-per-day", "718", *admin))
        _ok(maas("admin", "tenants", "create", "cli", "--plan", "cli-two", *admin))
        key = json.loads(_ok(maas("admin", "keys", "create", "cli", "-o", "json", *admin)).out)["secret"]
        reader = json.loads(_ok(maas("admin", "keys", "create", "cli", "--scope", "read", "-o", "json", *admin)).out)
        variables = {"MAAS_ENDPOINT": endpoint, "MAAS_TENANT": "cli", "MAAS_API_KEY": key}
        runs = {}
        for line in documented_journey():
            argv = shlex.split(string.Template(line).substitute(variables))
            assert argv[0] == "maas", line
            runs[line] = maas(*argv[1:])
            assert runs[line].code == 0, f"{line}\n{runs[line].err}"
        yield {
            "runs": runs,
            "workdir": workdir,
            "key": key,
            "reader": reader["secret"],
            "endpoint": endpoint,
            "admin_key": stack.admin_key,
        }


def _output(journey, command: str) -> Run:
    (line,) = [line for line in journey["runs"] if line.startswith(command)]
    return journey["runs"][line]


def test_the_documented_journey_trains_promotes_and_scores_the_held_out_digits(journey):
    config = journey["workdir"] / "config" / "config.json"
    assert stat.S_IMODE(config.stat().st_mode) == 0o600
    assert json.loads(config.read_text())["tenant"] == "cli"
    assert "datasets/digits/versions/1: 1438 rows, 65 columns" in _output(journey, "maas datasets upload").out
    watch = _output(journey, "maas jobs watch").err
    assert "epoch 10/10 [" in watch and "succeeded: registered models/digits/versions/1" in watch
    assert "model version: models/digits/versions/1" in _output(journey, "maas jobs show").out
    assert "models/digits/aliases/production -> version 1" in _output(journey, "maas alias set").out
    accuracy = _output(journey, "maas predict").out.strip().splitlines()[-1]
    assert accuracy.startswith("accuracy ") and float(accuracy.split()[1]) >= 0.9, accuracy
    assert "predictions: 359 rows of 718 a day in 1 call" in _output(journey, "maas usage").out


def test_json_output_is_the_api_resources(journey):
    auth = ("--endpoint", journey["endpoint"], "--api-key", journey["key"], "-o", "json")
    (version,) = json.loads(_ok(maas("models", "versions", "digits", *auth)).out)
    assert version["name"] == "models/digits/versions/1" and version["aliases"] == ["production"]
    assert version["metrics"]["accuracy"] >= 0.9
    (job,) = json.loads(_ok(maas("jobs", "list", "--state", "succeeded", *auth)).out)
    assert job["model_version"] == "models/digits/versions/1"
    events = [json.loads(line) for line in _ok(maas("jobs", "watch", job["name"], *auth)).out.splitlines()]
    assert sum("epoch_end" in e for e in events) == 10
    states = [e["state_change"]["state"] for e in events if "state_change" in e]
    assert states[-1] == "STATE_SUCCEEDED"


@pytest.mark.parametrize(
    ("argv", "key", "exit_code", "says"),
    [
        (["models", "list"], "maas_not_a_key", 26, "not authenticated: invalid or revoked API key; run `maas login`"),
        (["datasets", "upload", "digits.csv"], "reader", 17, "the API key lacks the 'train' scope"),
        (["alias", "set", "digits", "staging", "1"], "reader", 17, "'train' scope"),
        (["models", "versions", "nope"], "key", 15, "not found: model 'nope'"),
        (["predict", "nope", "digits-test.csv", "--label-column", "label"], "key", 15, "not found"),
        (["predict", "digits", "digits-test.csv"], "key", 13, "invalid argument: inputs[0] ('features'): shape"),
        (["train", "--dataset", "digits", "--model", "digits", "--epochs", "100000"], "key", 13, "epochs"),
    ],
    ids=["unauthenticated", "no-train-scope", "no-train-scope-alias", "no-model", "no-model-predict",
         "wrong-width", "bad-epochs"],
)  # fmt: skip
def test_refusals_are_one_readable_line_and_their_own_exit_code(journey, argv, key, exit_code, says):
    argv = [journey["workdir"] / a if a.endswith(".csv") else a for a in argv]
    run = maas(*map(str, argv), "--endpoint", journey["endpoint"], "--api-key", journey.get(key, key))
    assert run.code == exit_code, run.err
    assert run.out == "" and run.err.count("\n") == 1, run.err
    assert run.err.startswith("maas: ") and says in run.err, run.err


def test_over_the_daily_quota_says_when_to_retry(journey):
    # The journey made the first of the plan's two calls' worth of rows; refused calls (above) were refunded.
    predict = ("predict", "digits", str(journey["workdir"] / "digits-test.csv"), "--label-column", "label")
    predict += ("--api-key", journey["key"])
    try:
        assert _ok(maas(*predict, "-o", "json"))
        run = maas(*predict)
        assert run.code == 18, run.err
        assert run.out == "" and run.err.count("\n") == 1, run.err
        assert run.err.startswith("maas: limit reached: daily prediction quota") and "; retry in " in run.err, run.err
    finally:
        # The quota used up would refuse the other tests' predictions, whatever order they run in.
        admin = ("--endpoint", journey["endpoint"], "--api-key", journey["admin_key"])
        _ok(maas("admin", "plans", "create", "cli-roomy", "--predictions-per-day", "1000000", *admin))
        _ok(maas("plan", "change", "cli-roomy", "--tenant", "cli", *admin))


def test_without_a_login_every_command_says_to_log_in(journey, tmp_path, monkeypatch):
    monkeypatch.setenv("MAAS_CONFIG_DIR", str(tmp_path))
    run = maas("models", "list", "--endpoint", journey["endpoint"])
    assert run.code == 26 and "run `maas login`" in run.err
