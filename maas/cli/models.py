"""`maas models list|show|versions|upload|download` and `maas alias set|list`."""

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


def cmd_alias_set(args, client: MaasClient) -> int:
    if args.version == "latest":
        version = client.get_model(args.model).latest_version
    elif args.version.isdigit() and int(args.version) > 0:
        version = int(args.version)
    else:
        raise CliError(f"version {args.version!r}: expected a version number or `latest`", 2)
    alias = client.set_alias(args.model, args.alias, version)
    emit(args, alias, f"{alias.name} -> version {alias.version}")
    return 0


def cmd_alias_list(args, client: MaasClient) -> int:
    aliases = client.list_aliases(args.model)
    rows = [(a.name.rsplit("/", 1)[-1], a.version, timestamp(a.update_time)) for a in aliases]
    emit(args, aliases, table(("alias", "version", "updated"), rows))
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
        "point names like production at model versions",
        "  maas alias set digits production 3\n  maas alias list digits\n",
    )
    setting = add_command(
        alias,
        "set",
        cmd_alias_set,
        help="point an alias at a version (creating or moving it)",
        description="Point an alias at a version; inference follows the move without a restart "
        "(predictions without a version use `production`).",
        examples="  maas alias set digits production 3\n  maas alias set digits production latest\n",
    )
    setting.add_argument("model", help="model id or models/{id}")
    setting.add_argument("alias", help="alias name, e.g. production")
    setting.add_argument("version", help="version number, or `latest` for the newest")

    listing = add_command(
        alias, "list", cmd_alias_list, help="list a model's aliases", examples="  maas alias list digits\n"
    )
    listing.add_argument("model", help="model id or models/{id}")
