"""The `maas` CLI without a server: arguments, saved login, spec files, input files and rendering."""

import argparse
import io
import json
import os
import stat

import numpy as np
import pytest

from maas.cli import build_parser, config, main
from maas.cli.errors import CliError
from maas.cli.jobs import spec_from_args
from maas.cli.output import fields, metrics, size, table
from maas.cli.predict import read_features, render
from maas.cli.progress import JobProgress, TransferProgress
from maas.client.client import _service_config, resource_name
from maas.trainer.v1 import trainer_pb2


def _leaves(parser: argparse.ArgumentParser, path=()):
    """Every command path (`("jobs", "list")`) with its parser, groups included."""
    yield path, parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from _leaves(sub, (*path, name))


COMMANDS = [(path, parser) for path, parser in _leaves(build_parser()) if path]


@pytest.mark.parametrize("path", [p for p, _ in COMMANDS], ids=" ".join)
def test_every_command_has_help_with_examples(path, capsys):
    with pytest.raises(SystemExit) as done:
        main([*path, "--help"])
    assert done.value.code == 0
    help_text = capsys.readouterr().out
    examples = help_text.split("examples:\n", 1)[1]
    assert f"maas {' '.join(path)}" in examples


def test_every_command_that_calls_the_gateway_takes_output_json():
    connecting = {" ".join(p) for p, parser in COMMANDS if parser.get_default("connects")}
    assert connecting == {
        *("usage", "train", "predict"),
        *(f"datasets {c}" for c in ("upload", "list", "show", "delete")),
        *(f"jobs {c}" for c in ("list", "show", "cancel", "watch")),
        *(f"models {c}" for c in ("list", "show", "versions", "upload", "download")),
        *(f"alias {c}" for c in ("set", "list", "history", "rollout", "rollback")),
        *(f"admin {c} create" for c in ("tenants", "keys", "plans", "invitations")),
        "admin passwords reset",
        *("invoices list", "invoices show", "plan change", "plan budget"),
        *(f"members {c}" for c in ("list", "set-role", "remove")),
        "audit",
    }
    for path, parser in COMMANDS:
        if parser.get_default("connects"):
            options = {o for a in parser._actions for o in a.option_strings}
            assert {"-o", "--output", "--endpoint", "--api-key"} <= options, path


def test_plan_prices_and_money_on_the_command_line():
    from maas.cli.admin import price
    from maas.cli.billing import money
    from maas.cli.errors import CliError
    from maas.gateway.v1 import admin_pb2

    assert price("rows:1000:200/1000") == admin_pb2.Price(
        meter=admin_pb2.METER_PREDICTION_ROWS, included=1000, unit_amount=200, per_units=1000
    )
    assert price("gb-days:0:2").per_units == 1
    for bad in ("rows:1000", "tokens:1:1", "rows:1.5:2", "rows:1:2/x"):
        with pytest.raises(CliError, match="METER:INCLUDED:AMOUNT"):
            price(bad)
    assert (money(300, "USD"), money(123456, "EUR"), money(5, "USD"), money(500, "JPY")) == (
        "3.00 USD",
        "1,234.56 EUR",
        "0.05 USD",
        "500 JPY",
    )


def test_login_saves_settings_readable_by_the_user_alone(cli_home, capsys):
    assert main(["login", "--endpoint", "gw:1", "--api-key", "maas_k", "--tenant", "acme", "--no-verify"]) == 0
    path = cli_home / "config.json"
    assert json.loads(path.read_text()) == {"endpoint": "gw:1", "api_key": "maas_k", "tenant": "acme"}
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(cli_home.stat().st_mode) == 0o700
    assert "logged in to gw:1 as tenant acme" in capsys.readouterr().err


def test_login_reads_the_key_from_stdin_when_not_a_terminal(cli_home, monkeypatch):
    monkeypatch.setattr("sys.stdin", io.StringIO("maas_from_stdin\n"))
    assert main(["login", "--no-verify"]) == 0
    assert config.load() == {"endpoint": config.DEFAULT_ENDPOINT, "api_key": "maas_from_stdin"}


def test_logout_forgets_the_key_only(cli_home):
    config.save({"endpoint": "gw:1", "api_key": "k", "tenant": "acme"})
    assert main(["logout"]) == 0
    assert config.load() == {"endpoint": "gw:1", "tenant": "acme"}


def test_flags_beat_environment_beat_saved_login(cli_home, monkeypatch):
    config.save({"endpoint": "saved:1", "api_key": "saved", "tenant": "saved"})
    assert config.resolve(None, None) == config.Connection("saved:1", "saved", "saved")
    monkeypatch.setenv("MAAS_API_KEY", "env")
    monkeypatch.setenv("MAAS_ENDPOINT", "env:1")
    assert config.resolve(None, None) == config.Connection("env:1", "env", "saved")
    assert config.resolve("flag:1", "flag", "t") == config.Connection("flag:1", "flag", "t")


def test_config_dir_follows_xdg_unless_maas_config_dir_is_set(cli_home, monkeypatch, tmp_path):
    assert config.config_dir() == cli_home
    monkeypatch.delenv("MAAS_CONFIG_DIR")
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    assert config.config_path() == tmp_path / "xdg" / "maas" / "config.json"


def test_no_key_anywhere_means_unauthenticated_with_a_hint(cli_home, capsys):
    assert main(["models", "list"]) == 26
    assert capsys.readouterr().err.strip() == (
        "maas: no API key: run `maas login` (or pass --api-key, or set MAAS_API_KEY)"
    )


def test_a_damaged_config_file_is_a_local_error(cli_home, capsys):
    cli_home.mkdir()
    (cli_home / "config.json").write_text("{not json")
    assert main(["models", "list"]) == 3
    assert "run `maas login` again" in capsys.readouterr().err


def _train_args(*argv: str) -> argparse.Namespace:
    return build_parser().parse_args(["train", *argv])


def test_train_spec_from_flags_fills_the_template(cli_home):
    spec, name = spec_from_args(
        _train_args(
            "--dataset", "digits", "--label-column", "label", "--model", "digits", "--epochs", "3",
            "--param", "hidden_units=[128,64]", "--param", "activation=relu", "--feature-columns", "a,b",
        )
    )  # fmt: skip
    assert name == ""
    assert spec == {
        "dataset": {"dataset": "digits", "label_column": "label", "feature_columns": ["a", "b"]},
        "template": {"name": "mlp", "parameters": {"hidden_units": [128, 64], "activation": "relu"}},
        "hyperparameters": {"epochs": 3},
        "target_model": "digits",
    }


def test_train_flags_override_a_yaml_spec_file(cli_home, tmp_path):
    path = tmp_path / "job.yaml"
    path.write_text(
        "display_name: nightly\n"
        "spec:\n"
        "  dataset: {dataset: digits, label_column: label}\n"
        "  template: {name: logistic}\n"
        "  hyperparameters: {epochs: 20, batch_size: 64}\n"
        "  target_model: digits\n"
    )
    spec, name = spec_from_args(_train_args("--spec", str(path), "--epochs", "2"))
    assert name == "nightly"
    assert spec["hyperparameters"] == {"epochs": 2, "batch_size": 64}
    assert spec["template"] == {"name": "logistic"}


def test_a_json_spec_file_and_keras_json_without_a_template(cli_home, tmp_path):
    path = tmp_path / "job.json"
    path.write_text(json.dumps({"dataset": {"dataset": "d"}, "keras_model_json": "{}", "target_model": "m"}))
    spec, _ = spec_from_args(_train_args("--spec", str(path)))
    assert "template" not in spec
    with pytest.raises(CliError, match="not both"):
        spec_from_args(_train_args("--spec", str(path), "--template", "mlp"))


def test_train_fine_tunes_a_base_model_instead_of_a_template(cli_home):
    spec, _ = spec_from_args(
        _train_args("--dataset", "pics", "--model", "m", "--base-model", "models/b/versions/2", "--frozen-epochs", "3")
    )
    assert spec["base_model"] == {"model_version": "models/b/versions/2", "frozen_epochs": 3} and "template" not in spec
    with pytest.raises(CliError, match="either a template or base_model"):
        spec_from_args(_train_args("--dataset", "d", "--model", "m", "--base-model", "b", "--template", "mlp"))


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--model", "m"], "needs --dataset"),
        (["--dataset", "d"], "needs --model"),
        (["--dataset", "d", "--model", "m", "--param", "novalue"], "NAME=VALUE"),
    ],
)
def test_train_refuses_incomplete_flags_before_calling(cli_home, argv, message):
    with pytest.raises(CliError, match=message):
        spec_from_args(_train_args(*argv))


def test_a_broken_spec_file_is_one_line_and_exit_3(cli_home, tmp_path, capsys):
    path = tmp_path / "bad.yaml"
    path.write_text("dataset: [unclosed\n")
    assert main(["train", "--spec", str(path), "--api-key", "k"]) == 3
    err = capsys.readouterr().err
    assert err.startswith(f"maas: {path}: not valid YAML or JSON") and err.count("\n") == 1


def test_short_names_become_resource_names():
    assert resource_name("models", "digits") == "models/digits"
    assert resource_name("models", "models/digits") == "models/digits"


def test_only_calls_that_change_nothing_are_retried():
    names = {(n["service"], n["method"]) for n in json.loads(_service_config())["methodConfig"][0]["name"]}
    assert ("maas.registry.v1.RegistryService", "GetModelVersion") in names
    assert ("maas.gateway.v1.AdminService", "GetUsage") in names
    assert ("inference.GRPCInferenceService", "ModelInfer") in names
    assert ("maas.registry.v1.RegistryService", "CreateDataset") not in names
    assert ("maas.trainer.v1.TrainerService", "CancelTrainingJob") not in names


def test_csv_with_a_header_and_a_label_column(tmp_path):
    path = tmp_path / "rows.csv"
    path.write_text("a,label,b\n1,7,2\n3,8,4\n")
    features, labels = read_features(str(path), None, "label", None)
    np.testing.assert_array_equal(features, [[1, 2], [3, 4]])
    assert features.dtype == np.float32 and labels == ["7", "8"]


def test_csv_without_a_header(tmp_path):
    path = tmp_path / "rows.csv"
    path.write_text("1,2\n3,4\n")
    features, labels = read_features(str(path), None, None, None)
    np.testing.assert_array_equal(features, [[1, 2], [3, 4]])
    assert labels is None
    with pytest.raises(CliError, match="needs a header row"):
        read_features(str(path), None, "label", None)


@pytest.mark.parametrize(
    "body",
    ["[[1, 2], [3, 4]]", '{"instances": [[1, 2], [3, 4]]}', '[{"a": 1, "b": 2, "y": 0}, {"a": 3, "b": 4, "y": 1}]'],
)
def test_json_rows(tmp_path, body):
    path = tmp_path / "rows.json"
    path.write_text(body)
    labelled = '"y"' in body
    features, labels = read_features(str(path), None, "y" if labelled else None, None)
    np.testing.assert_array_equal(features, [[1, 2], [3, 4]])
    assert labels == ([0, 1] if labelled else None)


def test_npz_arrays(tmp_path):
    path = tmp_path / "rows.npz"
    np.savez(path, features=np.ones((2, 3)), labels=np.array([0, 1]))
    features, labels = read_features(str(path), None, "labels", None)
    assert features.shape == (2, 3) and labels == [0, 1]
    with pytest.raises(CliError, match="no array 'x'"):
        read_features(str(path), None, None, "x")


@pytest.mark.parametrize(
    ("name", "body", "message"),
    [
        ("rows.csv", "a,b\n1,x\n", "line 2: every feature must be a number"),
        ("rows.csv", "a,b\n1,2\n3\n", "different numbers of features"),
        ("rows.json", "{", "not valid JSON"),
        ("rows.txt", "1,2", "cannot tell the format"),
        ("rows.csv", "a,b\n1,2\n", "no column 'label'"),
    ],
)
def test_unusable_input_is_named(tmp_path, name, body, message):
    path = tmp_path / name
    path.write_text(body)
    with pytest.raises(CliError, match=message):
        read_features(str(path), None, "label" if "label" in message else None, None)


def test_predictions_render_classes_probabilities_and_accuracy():
    outputs = {"probabilities": np.array([[0.1, 0.9], [0.8, 0.2], [0.3, 0.7]], dtype=np.float32)}
    data, human = render(outputs, ["1", "1", "1"])
    assert data["classes"] == [1, 0, 1]
    assert data["accuracy"] == pytest.approx(2 / 3)
    assert human.splitlines() == [
        "ROW  CLASS  PROBABILITY  LABEL",
        "  0      1       0.9000      1",
        "  1      0       0.8000      1",
        "  2      1       0.7000      1",
        "accuracy 0.6667 (2 of 3 rows)",
    ]


def test_regression_outputs_render_as_values():
    data, human = render({"predictions": np.array([[1.5], [2.25]], dtype=np.float32)}, None)
    assert data == {"outputs": {"predictions": [[1.5], [2.25]]}}
    assert human.splitlines() == ["ROW  PREDICTIONS", "  0          1.5", "  1         2.25"]


def test_tables_fields_metrics_and_sizes():
    assert table(("name", "rows"), [("a", 5), ("long-name", 1234)]).splitlines() == [
        "NAME       ROWS",
        "a             5",
        "long-name  1234",
    ]
    assert fields([("name", "x"), ("empty", ""), ("rows", 3)]) == "name: x\nrows: 3"
    assert metrics({"val_loss": 0.5, "accuracy": 0.9, "loss": 0.25}) == "loss 0.2500  accuracy 0.9000  val_loss 0.5000"
    assert [size(n) for n in (512, 2048, 5 << 20)] == ["512 B", "2.0 KiB", "5.0 MiB"]


def _events() -> list[trainer_pb2.TrainingJobEvent]:
    Event = trainer_pb2.TrainingJobEvent
    running = Event.StateChange(state=trainer_pb2.TrainingJob.State.STATE_RUNNING, reason="running")
    done = Event.StateChange(state=trainer_pb2.TrainingJob.State.STATE_SUCCEEDED, reason="registered m/1")
    return [
        Event(state_change=running),
        Event(log=Event.LogLine(message="training on 8 rows")),
        *(
            Event(epoch_end=Event.EpochEnd(epoch=e, total_epochs=2, metrics={"loss": 1 / e}, duration_seconds=1.0))
            for e in (1, 2)
        ),
        Event(evaluation=Event.Evaluation(metrics={"accuracy": 0.5}, model_version="m/1")),
        Event(state_change=done),
    ]


def test_progress_without_a_terminal_is_one_plain_line_per_event():
    stream = io.StringIO()
    progress = JobProgress(stream)
    for event in _events():
        progress(event)
    progress.close()
    assert stream.getvalue().splitlines() == [
        "running",
        "training on 8 rows",
        "epoch 1/2 [############............] loss 1.0000  eta 1s",
        "epoch 2/2 [########################] loss 0.5000",
        "evaluation accuracy 0.5000 -> m/1",
        "succeeded: registered m/1",
    ]
    assert "\r" not in stream.getvalue() and "\x1b" not in stream.getvalue()


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_on_a_terminal_redraws_the_epoch_line(monkeypatch):
    monkeypatch.setattr("shutil.get_terminal_size", lambda: os.terminal_size((40, 24)))
    stream = Terminal()
    progress = JobProgress(stream)
    for event in _events():
        progress(event)
    progress.close()
    text = stream.getvalue()
    assert text.count("\r\x1b[Kepoch") == 2
    # The redrawn line is cut to the terminal, and ended before the next line of its own.
    assert "\r\x1b[Kepoch 2/2 [########################] lo\nevaluation" in text


def test_transfer_progress_is_a_transient_bar_on_a_terminal_and_silent_elsewhere(monkeypatch):
    monkeypatch.setattr("shutil.get_terminal_size", lambda: os.terminal_size((80, 24)))
    plain, terminal = io.StringIO(), Terminal()
    for stream in (plain, terminal):
        with TransferProgress("uploading d.csv", stream) as progress:
            progress(1024, 2048)
            progress(2048, 2048)
    assert plain.getvalue() == ""
    assert terminal.getvalue() == (
        "\r\x1b[Kuploading d.csv [############............] 1.0 KiB of 2.0 KiB"
        "\r\x1b[Kuploading d.csv [########################] 2.0 KiB of 2.0 KiB"
        "\r\x1b[K"
    )


def test_a_versions_drift_is_one_line_naming_the_most_shifted_features():
    from maas.cli.models import drift_summary
    from maas.registry.v1 import registry_pb2

    drift = registry_pb2.DriftReport(row_count=500, prediction_shares=[0.2, 0.8], prediction_psi=0.4)
    drift.features.add(name="a", psi=0.3, ks=0.05)
    drift.features.add(name="b", psi=0.1, ks=0.2)
    summary = drift_summary(drift)
    assert summary.startswith("largest PSI 0.300 (a), largest KS 0.200 (b), predicted classes PSI 0.400; 500 rows")
    assert drift_summary(registry_pb2.DriftReport()) == ""
