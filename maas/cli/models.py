"""`maas models list|show|versions|upload|download` and `maas alias set|list|history|rollback`."""

from __future__ import annotations

from pathlib import Path

from maas.cli.base import add_command, group
from maas.cli.errors import CliError
from maas.cli.output import emit, fields, metrics, size, table, timestamp
from maas.cli.progress import TransferProgress
from maas.client import MaasClient
from maas.registry.v1 import registry_pb2


def _model_id(name: str) -> str:
    return name.removeprefix("models/")


def _tensors(specs) -> str:
    return ", ".join(f"{t.name} {t.datatype} [{', '.join(map(str, t.shape))}]" for t in specs)


def cmd_list(args, client: MaasClient) -> int:
    models = client.list_models(args.filter or "", limit=args.limit)
    rows = [(_model_id(m.name), m.latest_version, m.description, timestamp(m.update_time)) for m in models]
    emit(args, models, table(("model", "latest version", "description", "updated"), rows))
    return 0


def cmd_show(args, client: MaasClient) -> int:
    model = client.get_model(args.model)
    aliases = client.list_aliases(args.model)
    human = fields(
        [
            ("name", model.name),
            ("description", model.description),
            ("task", registry_pb2.TaskType.Name(model.task_type).removeprefix("TASK_TYPE_").lower()),
            ("latest version", model.latest_version),
            ("aliases", ", ".join(f"{a.name.rsplit('/', 1)[-1]} -> {a.version}" for a in aliases)),
            ("labels", ", ".join(f"{k}={v}" for k, v in sorted(model.labels.items()))),
            ("created", timestamp(model.create_time)),
            ("updated", timestamp(model.update_time)),
        ]
    )
    emit(args, model, human)
    return 0


def drift_summary(drift: registry_pb2.DriftReport) -> str:
    """The latest drift scores in one line: the most shifted feature by each measure, the
    predicted classes' PSI, and what they were computed on."""
    if not drift.features:
        return ""
    psi = max(drift.features, key=lambda f: f.psi)
    ks = max(drift.features, key=lambda f: f.ks)
    parts = [f"largest PSI {psi.psi:.3f} ({psi.name})", f"largest KS {ks.ks:.3f} ({ks.name})"]
    if drift.prediction_shares:
        parts.append(f"predicted classes PSI {drift.prediction_psi:.3f}")
    return f"{', '.join(parts)}; {drift.row_count} rows, {timestamp(drift.time)}"


def _version_detail(version: registry_pb2.ModelVersion) -> str:
    return fields(
        [
            ("name", version.name),
            ("state", registry_pb2.ModelVersion.State.Name(version.state).removeprefix("STATE_").lower()),
            ("reason", version.state_reason),
            ("format", version.format),
            ("aliases", ", ".join(version.aliases)),
            ("metrics", metrics(version.metrics)),
            ("inputs", _tensors(version.signature.inputs)),
            ("outputs", _tensors(version.signature.outputs)),
            ("non-finite inputs", "accepted" if version.signature.accepts_non_finite else "refused"),
            ("training job", version.lineage.training_job),
            ("dataset", version.lineage.dataset),
            ("drift", drift_summary(version.drift)),
            ("artifact", f"{version.artifact} ({size(version.artifact_size_bytes)})"),
            ("created", timestamp(version.create_time)),
        ]
    )


def cmd_versions(args, client: MaasClient) -> int:
    if args.version:
        version = client.get_model_version(args.model, args.version)
        emit(args, version, _version_detail(version))
        return 0
    versions = client.list_model_versions(args.model, limit=args.limit)
    rows = [
        (
            v.version,
            registry_pb2.ModelVersion.State.Name(v.state).removeprefix("STATE_").lower(),
            ", ".join(v.aliases),
            metrics(v.metrics),
            v.lineage.training_job.removeprefix("trainingJobs/"),
            timestamp(v.create_time),
        )
        for v in versions
    ]
    emit(args, versions, table(("version", "state", "aliases", "metrics", "job", "created"), rows))
    return 0


def cmd_download(args, client: MaasClient) -> int:
    version = client.get_model_version(args.model, args.version)
    path = Path(args.out or f"{_model_id(args.model)}-{version.version}.tar")
    with TransferProgress(f"downloading {version.name}") as progress:
        client.download_artifact(version.artifact, path, progress=progress)
    emit(args, version, str(path))
    return 0


def cmd_upload(args, client: MaasClient) -> int:
    path = Path(args.path)
    if not path.exists():
        raise CliError(f"{path}: no such file or directory", 2)
    with TransferProgress(f"uploading {path.name}") as progress:

        def report(sent: int, total: int) -> None:
            progress(sent, total)
            if sent >= total:
                progress.line.update(f"validating models/{_model_id(args.model)} (load, signature, warm-up) ...")

        try:
            version = client.upload_model(
                args.model,
                path,
                alias=args.alias,
                description=args.description,
                progress=report,
                accepts_non_finite=args.accept_non_finite,
            )
        except ValueError as error:
            raise CliError(str(error), 2) from None
    emit(args, version, _version_detail(version))
    return 0


def _version_number(text: str, client: MaasClient, model: str) -> int:
    if text == "latest":
        return client.get_model(model).latest_version
    if text.isascii() and text.isdigit() and int(text) > 0:  # isdigit alone takes '³', which int() refuses
        return int(text)
    raise CliError(f"version {text!r}: expected a version number or `latest`", 2)


def _routing(alias) -> str:
    """`3` for a plain alias; `3=90 4=10` for a split; `, shadow 5 (10%)` when mirrored."""
    split = len(alias.targets) > 1
    text = " ".join(f"{t.version}={t.weight}" for t in alias.targets) if split else str(alias.version)
    if alias.shadow.version:
        text += f", shadow {alias.shadow.version} ({alias.shadow.percent:g}%)"
    if alias.payload_log_percent:
        text += f", {alias.payload_log_percent:g}% logged"
    return text


def cmd_alias_set(args, client: MaasClient) -> int:
    weights: dict[int, int] = {}
    for target in args.versions:
        number, sep, weight = target.partition("=")
        if sep and not (weight.isascii() and weight.isdigit() and int(weight) > 0):
            raise CliError(f"{target!r}: the weight after `=` must be a positive whole number", 2)
        version = _version_number(number, client, args.model)
        if version in weights:
            raise CliError(f"version {version} is given twice", 2)
        weights[version] = int(weight) if sep else 0
    if len(weights) > 1 and not all(weights.values()):
        raise CliError("a split needs a weight for every version, e.g. 3=90 4=10", 2)
    shadow = None
    if args.shadow:
        number, _, percent = args.shadow.partition(":")
        try:
            shadow = (_version_number(number, client, args.model), float(percent or 100))
        except ValueError:
            raise CliError(f"--shadow {args.shadow!r}: expected VERSION[:PERCENT], e.g. 5:10", 2) from None
    options = {"shadow": shadow, "reason": args.reason, "payload_log_percent": args.log_percent}
    if len(weights) == 1:
        alias = client.set_alias(args.model, args.alias, next(iter(weights)), **options)
    else:
        alias = client.set_alias(args.model, args.alias, weights=weights, **options)
    emit(args, alias, f"{alias.name} -> version {_routing(alias)}")
    return 0


def cmd_alias_list(args, client: MaasClient) -> int:
    aliases = client.list_aliases(args.model)
    rows = [(a.name.rsplit("/", 1)[-1], _routing(a), a.revision, timestamp(a.update_time)) for a in aliases]
    emit(args, aliases, table(("alias", "version", "revision", "updated"), rows))
    return 0


def cmd_alias_rollout(args, client: MaasClient) -> int:
    try:
        percents = [int(p) for p in args.steps.split(",")]
    except ValueError:
        raise CliError(f"--steps {args.steps!r}: expected percents like 10,50,100", 2) from None
    steps = [(p, args.min_requests, args.min_seconds) for p in percents]
    try:
        alias = client.start_rollout(
            args.model,
            args.alias,
            _version_number(args.candidate, client, args.model),
            steps,
            max_error_rate=args.max_error_rate,
            max_p99_seconds=args.max_p99_ms / 1000,
            max_disagreement=args.max_disagreement,
            mirror_percent=args.mirror,
            reason=args.reason,
        )
    except ValueError as error:
        raise CliError(str(error), 2) from None
    emit(args, alias, f"{alias.name} -> version {_routing(alias)} (rollout step 1 of {len(steps)})")
    return 0


def cmd_alias_history(args, client: MaasClient) -> int:
    revisions = client.alias_history(args.model, args.alias, args.limit)
    rows = [
        (
            r.alias.revision,
            "(deleted)" if r.deleted else _routing(r.alias),
            timestamp(r.alias.update_time),
            r.alias.reason,
        )
        for r in revisions
    ]
    emit(args, revisions, table(("revision", "version", "time", "reason"), rows))
    return 0


def cmd_alias_rollback(args, client: MaasClient) -> int:
    alias = client.rollback_alias(args.model, args.alias, args.revision, args.reason)
    emit(args, alias, f"{alias.name} -> version {_routing(alias)} (revision {alias.revision}: {alias.reason})")
    return 0


def register(commands) -> None:
    models = group(
        commands,
        "models",
        "list models and inspect their versions",
        "  maas models list\n  maas models versions digits\n  maas models versions digits production\n"
        "  maas models upload ./my_model.keras --model sentiment --alias production\n",
    )
    listing = add_command(
        models,
        "list",
        cmd_list,
        help="list your models",
        examples="  maas models list\n  maas models list --filter labels.team=vision -o json\n",
    )
    listing.add_argument("--filter", help="e.g. labels.team=vision")
    listing.add_argument("--limit", type=int, help="show at most this many")

    show = add_command(
        models, "show", cmd_show, help="show a model and its aliases", examples="  maas models show digits\n"
    )
    show.add_argument("model", help="model id or models/{id}")

    versions = add_command(
        models,
        "versions",
        cmd_versions,
        help="list a model's versions (newest first), or show one",
        examples="  maas models versions digits\n"
        "  maas models versions digits 3              # one version: signature, metrics, lineage\n"
        "  maas models versions digits production     # the version an alias points at\n",
    )
    versions.add_argument("model", help="model id or models/{id}")
    versions.add_argument("version", nargs="?", help="a version number or alias to show in detail")
    versions.add_argument("--limit", type=int, help="list at most this many")

    upload = add_command(
        models,
        "upload",
        cmd_upload,
        help="upload a SavedModel or Keras model as a new version and wait until it is validated",
        description="Upload a model trained anywhere as a new version: its signature (input and output names, "
        "datatypes, shapes) is derived from the model, which is checked (no file, network or Python ops; Keras "
        "safe mode), loaded and warmed before it is served. A broken-off upload resumes where it stopped when "
        "the command is run again.",
        examples="  maas models upload ./export/ --model digits            # a SavedModel directory\n"
        "  maas models upload model.keras --model sentiment --alias production\n"
        "  maas models upload model.tar.gz --model vision -o json  # a tar or zip of either\n",
    )
    upload.add_argument("path", help="SavedModel directory, .keras file, or a tar/zip of either")
    upload.add_argument("--model", required=True, help="model id (created if new) or models/{id}")
    upload.add_argument("--alias", help="point this alias (e.g. production) at the new version once it is ready")
    upload.add_argument("--description", default="", help="a note kept with the version")
    upload.add_argument(
        "--accept-non-finite",
        action="store_true",
        help="let inputs hold NaN and infinities (refused with INVALID_ARGUMENT by default)",
    )

    download = add_command(
        models,
        "download",
        cmd_download,
        help="download a version's SavedModel archive (tar)",
        examples="  maas models download digits --version production -O digits.tar\n",
    )
    download.add_argument("model", help="model id or models/{id}")
    download.add_argument("--version", default="production", help="number or alias (default production)")
    download.add_argument("-O", "--out", help="file to write (default: {model}-{version}.tar)")

    alias = group(
        commands,
        "alias",
        "point names like production at model versions, split traffic between them, roll back",
        "  maas alias set digits production 3\n  maas alias set digits production 3=90 4=10\n"
        "  maas alias list digits\n  maas alias history digits production\n",
    )
    setting = add_command(
        alias,
        "set",
        cmd_alias_set,
        help="point an alias at a version, or split its traffic between versions",
        description="Point an alias at a version, or split it by weight (`3=90 4=10`: a request with a routing "
        "key, the `maas-routing-key` header or the `routing_key` parameter, always lands on the same version; "
        "others at random). Inference follows the change without a restart or a failed request (predictions "
        "without a version use `production`). Every change is kept in the alias's history.",
        examples="  maas alias set digits production 3\n  maas alias set digits production latest\n"
        "  maas alias set digits production 3=90 4=10 --reason 'canary v4'\n"
        "  maas alias set digits production 3 --shadow 4:25   # mirror 25% to v4, which answers nobody\n"
        "  maas alias set digits production 3 --log-percent 1  # 1% of requests to the payload logs\n",
    )
    setting.add_argument("model", help="model id or models/{id}")
    setting.add_argument("alias", help="alias name, e.g. production")
    setting.add_argument(
        "versions", nargs="+", metavar="version[=weight]", help="a version number or `latest`; with weights, a split"
    )
    setting.add_argument("--shadow", metavar="VERSION[:PERCENT]", help="mirror a share of the traffic to a version")
    setting.add_argument("--reason", default="", help="a note kept in the alias's history")
    setting.add_argument(
        "--log-percent", type=float, default=0, help="percent of requests written to the payload logs (default 0: off)"
    )

    listing = add_command(
        alias, "list", cmd_alias_list, help="list a model's aliases", examples="  maas alias list digits\n"
    )
    listing.add_argument("model", help="model id or models/{id}")

    history = add_command(
        alias,
        "history",
        cmd_alias_history,
        help="list every change of an alias, newest first",
        examples="  maas alias history digits production\n  maas alias history digits production -o json\n",
    )
    history.add_argument("model", help="model id or models/{id}")
    history.add_argument("alias", help="alias name, e.g. production")
    history.add_argument("--limit", type=int, help="show at most this many")

    rollout = add_command(
        alias,
        "rollout",
        cmd_alias_rollout,
        help="move an alias to a candidate step by step; inference promotes it or rolls it back by itself",
        description="Start a rollout: the candidate answers each step's percent of the alias's requests; a step "
        "passes after --min-requests candidate requests and --min-seconds, if the candidate's error rate, p99 "
        "latency and disagreement with the primary (on --mirror percent of the primary's requests) stay within "
        "the limits; breaching one rolls the alias back. Each move, with its figures, is in `maas alias history`.",
        examples="  maas alias rollout digits production --candidate 4 --steps 10,50,100 --min-requests 500 \\\n"
        "      --min-seconds 60 --max-error-rate 0.01 --max-p99-ms 50 --max-disagreement 0.05 --mirror 20\n",
    )
    rollout.add_argument("model", help="model id or models/{id}")
    rollout.add_argument("alias", help="alias name, e.g. production")
    rollout.add_argument("--candidate", required=True, help="the version to roll out (or `latest`)")
    rollout.add_argument("--steps", default="10,50,100", help="candidate percents, comma-separated")
    rollout.add_argument("--min-requests", type=int, default=100, help="candidate requests per step")
    rollout.add_argument("--min-seconds", type=float, default=60, help="shortest time per step")
    rollout.add_argument("--max-error-rate", type=float, default=0.01, help="share of failed requests (0: off)")
    rollout.add_argument("--max-p99-ms", type=float, default=0, help="p99 latency limit in ms (0: off)")
    rollout.add_argument("--max-disagreement", type=float, default=0, help="share of differing answers (0: off)")
    rollout.add_argument("--mirror", type=float, default=0, help="percent of the primary's requests compared")
    rollout.add_argument("--reason", default="", help="a note kept in the alias's history")

    rollback = add_command(
        alias,
        "rollback",
        cmd_alias_rollback,
        help="set an alias back to what it was at a revision of its history",
        examples="  maas alias rollback digits production 12 --reason 'v4 answers slower'\n",
    )
    rollback.add_argument("model", help="model id or models/{id}")
    rollback.add_argument("alias", help="alias name, e.g. production")
    rollback.add_argument("revision", type=int, help="a revision from `maas alias history`")
    rollback.add_argument("--reason", default="", help="why; kept in the history")
