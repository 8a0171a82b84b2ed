"""`maas train` and `maas jobs list|show|cancel|watch`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml

from maas.cli.base import add_command, group
from maas.cli.errors import EXIT_INTERRUPTED, EXIT_JOB_FAILED, CliError
from maas.cli.output import emit, fields, metrics, note, table, timestamp, to_dict
from maas.cli.progress import JobProgress, state_name
from maas.client import MaasClient
from maas.trainer.v1 import trainer_pb2

State = trainer_pb2.TrainingJob.State
SPEC_EXAMPLE = """\
# spec.yaml: a TrainingJobSpec (see protos/maas/trainer/v1/trainer.proto); short names are fine
dataset: {dataset: digits, label_column: label}
template: {name: mlp, parameters: {hidden_units: [128, 64]}}
hyperparameters: {epochs: 20, batch_size: 32, learning_rate: 0.002}
target_model: digits
"""


def load_spec(path: Path) -> dict[str, Any]:
    """A job spec from a YAML or JSON file (JSON is YAML); `{spec: ..., display_name: ...}` also works."""
    try:
        data = yaml.safe_load(path.read_text())
    except OSError as error:
        raise CliError(f"{path}: {error.strerror}") from None
    except yaml.YAMLError as error:
        raise CliError(f"{path}: not valid YAML or JSON: {' '.join(str(error).split())}") from None
    if not isinstance(data, dict):
        raise CliError(f"{path}: expected a mapping of spec fields, e.g.\n{SPEC_EXAMPLE}")
    return data


def parse_param(text: str) -> tuple[str, Any]:
    """`hidden_units=[128,64]` -> ('hidden_units', [128, 64]); values are JSON, else strings."""
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise CliError(f"--param {text!r}: expected NAME=VALUE, e.g. hidden_units=[128,64]")
    try:
        return key, json.loads(value)
    except ValueError:
        return key, value


def _merge(base: dict, overrides: dict) -> dict:
    """`overrides` deep-merged into `base`; None values are ignored."""
    merged = dict(base)
    for key, value in overrides.items():
        if isinstance(value, dict):
            merged[key] = _merge(merged.get(key) or {}, value)
        elif value is not None:
            merged[key] = value
    return merged


def spec_from_args(args) -> tuple[dict[str, Any], str]:
    """The job spec (a spec file with the flags on top) and its display name."""
    spec: dict[str, Any] = load_spec(Path(args.spec)) if args.spec else {}
    display_name = args.display_name or ""
    if isinstance(spec.get("spec"), dict):
        display_name = display_name or str(spec.get("display_name", ""))
        spec = spec["spec"]
    features = args.feature_columns.split(",") if args.feature_columns else None
    params = dict(parse_param(p) for p in args.param)
    spec = _merge(
        spec,
        {
            "dataset": {"dataset": args.dataset, "label_column": args.label_column, "feature_columns": features},
            "template": {"name": args.template, "parameters": params or None},
            "hyperparameters": {
                "epochs": args.epochs,
                "batch_size": args.batch_size,
                "learning_rate": args.learning_rate,
                "optimizer": args.optimizer,
                "seed": args.seed,
                "early_stopping_patience": args.early_stopping_patience,
            },
            "validation_split": args.validation_split,
            "target_model": args.model,
        },
    )
    if args.base_model:
        spec["base_model"] = {"model_version": args.base_model, "frozen_epochs": args.frozen_epochs or 0}
    others = [name for name in ("keras_model_json", "base_model") if name in spec or _camel(name) in spec]
    if others:
        if spec.pop("template", None):
            raise CliError(f"a spec has either a template or {others[0]}, not both")
    elif not spec.get("template", {}).get("name"):
        spec["template"] = {**spec.get("template", {}), "name": "mlp"}
    return _required(spec), display_name


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


def _required(spec: dict[str, Any]) -> dict[str, Any]:
    missing = [flag for flag, key in (("--dataset", "dataset"), ("--model", "target_model")) if not spec.get(key)]
    if missing:
        raise CliError(f"maas train needs {' and '.join(missing)} (or a --spec file that sets them)", 2)
    return spec


def _job_summary(job: trainer_pb2.TrainingJob) -> str:
    return fields(
        [
            ("name", job.name),
            ("display name", job.display_name),
            ("state", state_name(job.state)),
            ("reason", job.state_reason),
            ("dataset", job.spec.dataset.dataset),
            ("target model", job.spec.target_model),
            ("epoch", f"{job.epoch}/{job.total_epochs}" if job.total_epochs else ""),
            ("metrics", metrics(job.metrics)),
            ("evaluation", metrics(job.evaluation)),
            ("model version", job.model_version),
            ("attempt", job.attempt or ""),
            ("created", timestamp(job.create_time)),
            ("started", timestamp(job.start_time)),
            ("ended", timestamp(job.end_time)),
        ]
    )


def watch(args, client: MaasClient, name: str, json_lines: bool = False) -> int:
    """Follow a job to its end, with progress on stderr or, with `json_lines`, each event as a JSON line."""
    progress = JobProgress()
    try:
        for event in client.watch_training_job(name, timeout=None):
            if json_lines:
                print(json.dumps(to_dict(event)), flush=True)
            else:
                progress(event)
    except KeyboardInterrupt:
        progress.close()
        note(f"stopped watching; the job goes on (`maas jobs watch {name}` resumes, `maas jobs cancel` stops it)")
        return EXIT_INTERRUPTED
    progress.close()
    job = client.get_training_job(name)
    if not json_lines:
        emit(args, job, _job_summary(job))
    if job.state != State.STATE_SUCCEEDED:
        note(f"{job.name} {state_name(job.state)}: {job.state_reason or 'no reason given'}")
        return EXIT_JOB_FAILED
    return 0


def cmd_train(args, client: MaasClient) -> int:
    spec, display_name = spec_from_args(args)
    try:
        job = client.create_training_job_from_spec(spec, display_name=display_name, request_id=args.request_id or "")
    except ValueError as error:
        raise CliError(str(error)) from None
    if args.no_wait:
        emit(args, job, job.name)
        note(f"queued; follow it with `maas jobs watch {job.name.removeprefix('trainingJobs/')}`")
        return 0
    note(f"{job.name} queued; Ctrl-C stops watching, not the job")
    return watch(args, client, job.name)


def _job_name(args, client: MaasClient) -> str:
    """The job named on the command line, else the newest one."""
    if args.job:
        return args.job
    newest = client.list_training_jobs(limit=1)
    if not newest:
        raise CliError("no training jobs yet; start one with `maas train`")
    note(f"newest job: {newest[0].name}")
    return newest[0].name


def cmd_list(args, client: MaasClient) -> int:
    terms = [args.filter] if args.filter else []
    terms += [f"state={args.state.upper()}"] if args.state else []
    terms += [f"target_model=models/{args.model.removeprefix('models/')}"] if args.model else []
    jobs = client.list_training_jobs(" AND ".join(terms), limit=args.limit)
    rows = [
        (
            j.name.removeprefix("trainingJobs/"),
            state_name(j.state),
            j.spec.target_model.removeprefix("models/"),
            f"{j.epoch}/{j.total_epochs}",
            metrics({k: v for k, v in j.metrics.items() if k in ("loss", "val_accuracy", "accuracy")}),
            timestamp(j.create_time),
        )
        for j in jobs
    ]
    emit(args, jobs, table(("job", "state", "model", "epoch", "metrics", "created"), rows))
    return 0


def cmd_show(args, client: MaasClient) -> int:
    job = client.get_training_job(_job_name(args, client))
    emit(args, job, _job_summary(job))
    return 0


def cmd_cancel(args, client: MaasClient) -> int:
    job = client.cancel_training_job(args.job)
    emit(args, job, f"{job.name}: {state_name(job.state)}")
    return 0


def cmd_watch(args, client: MaasClient) -> int:
    return watch(args, client, _job_name(args, client), json_lines=args.output == "json")


def register(commands) -> None:
    train = add_command(
        commands,
        "train",
        cmd_train,
        help="start a training job and follow its epochs, loss and metrics live",
        description="Queue a training job from flags, a YAML/JSON spec file, or both (flags win), then show "
        "its progress until it ends (Ctrl-C stops watching, not the job). Exits 0 when the job succeeds, "
        f"{EXIT_JOB_FAILED} when it fails or is cancelled.",
        examples="  maas train --dataset digits --label-column label --model digits --epochs 10\n"
        "  maas train --dataset digits --label-column label --model digits --param hidden_units=[128,64]\n"
        "  maas train --spec spec.yaml --epochs 5 --no-wait\n\n" + SPEC_EXAMPLE,
    )
    train.add_argument("--spec", help="YAML or JSON file with a TrainingJobSpec")
    train.add_argument("--dataset", help="dataset id (latest version) or datasets/{id}/versions/{n}")
    train.add_argument("--label-column", help="the CSV column to predict")
    train.add_argument("--feature-columns", help="comma-separated feature columns (default: all but the label)")
    train.add_argument("--model", help="model that receives the trained version, e.g. digits")
    train.add_argument(
        "--template",
        help="mlp (default), linear, logistic, cnn; image_classifier (image datasets), text_classifier (text datasets)",
    )
    train.add_argument(
        "--base-model",
        help="fine-tune a registered image or text classifier instead of a template: models/NAME/versions/N or ALIAS",
    )
    train.add_argument("--frozen-epochs", type=int, help="with --base-model: epochs that train only the new head")
    train.add_argument(
        "--param", action="append", default=[], metavar="NAME=VALUE", help="template parameter (JSON value); repeat"
    )
    train.add_argument("--epochs", type=int, help="epochs (server default 20)")
    train.add_argument("--batch-size", type=int, help="batch size (server default 32)")
    train.add_argument("--learning-rate", type=float, help="learning rate (server default 0.001)")
    train.add_argument("--optimizer", help="adam (default), adamw, sgd or rmsprop")
    train.add_argument("--validation-split", type=float, help="fraction held out (server default 0.2)")
    train.add_argument("--early-stopping-patience", type=int, help="stop after this many epochs without progress")
    train.add_argument("--seed", type=int, help="seed for initialisation and the split")
    train.add_argument("--display-name", help="a label for the job")
    train.add_argument("--request-id", help="idempotency key: repeating it returns the first job")
    train.add_argument("--no-wait", action="store_true", help="print the job's name and return at once")

    jobs = group(
        commands,
        "jobs",
        "list, inspect, follow and cancel training jobs",
        "  maas jobs list --state running\n  maas jobs watch\n  maas jobs show\n  maas jobs cancel 3f2a9c\n",
    )
    listing = add_command(
        jobs,
        "list",
        cmd_list,
        help="list training jobs, newest first",
        examples="  maas jobs list\n  maas jobs list --state succeeded --model digits -o json\n",
    )
    listing.add_argument("--state", choices=[state_name(s) for s in State.values() if s], help="only this state")
    listing.add_argument("--model", help="only jobs training this model")
    listing.add_argument("--filter", help="raw filter, e.g. 'state=RUNNING AND target_model=models/digits'")
    listing.add_argument("--limit", type=int, help="show at most this many")

    show = add_command(
        jobs,
        "show",
        cmd_show,
        help="show a job: state, epochs, metrics, evaluation, model version",
        examples="  maas jobs show                 # the newest job\n  maas jobs show 3f2a9c -o json\n",
    )
    show.add_argument("job", nargs="?", help="job id or trainingJobs/{id} (default: the newest job)")

    cancel = add_command(
        jobs, "cancel", cmd_cancel, help="cancel a queued or running job", examples="  maas jobs cancel 3f2a9c\n"
    )
    cancel.add_argument("job", help="job id or trainingJobs/{id}")

    watching = add_command(
        jobs,
        "watch",
        cmd_watch,
        help="follow a job's progress to its end (replays what already happened)",
        description="Show a job's events from its start until it ends: state changes, log lines, each epoch's "
        "loss and metrics, the evaluation. With -o json, one event per line on stdout. Exits 0 when the "
        f"job succeeded, {EXIT_JOB_FAILED} when it failed or was cancelled.",
        examples="  maas jobs watch                # the newest job\n  maas jobs watch 3f2a9c -o json | jq .\n",
    )
    watching.add_argument("job", nargs="?", help="job id or trainingJobs/{id} (default: the newest job)")
