"""`maas datasets upload|list|show`."""

from __future__ import annotations

import re
from pathlib import Path

from maas.cli.base import add_command, group
from maas.cli.errors import EXIT_USAGE, CliError
from maas.cli.output import emit, fields, size, table, timestamp
from maas.cli.progress import TransferProgress
from maas.client import MaasClient
from maas.client.client import dataset_name
from maas.registry.v1 import registry_pb2


def dataset_id_from_path(path: Path) -> str:
    """`Digits_2024.csv` -> `digits-2024`: a file name made into an id (lowercase, digits, `-`)."""
    return re.sub(r"[^a-z0-9]+", "-", path.stem.lower()).strip("-")


def _format_name(fmt: int) -> str:
    return registry_pb2.DatasetFormat.Name(fmt).removeprefix("DATASET_FORMAT_").lower()


def _kind_name(kind: int) -> str:
    return registry_pb2.DatasetKind.Name(kind).removeprefix("DATASET_KIND_").lower()


def _summary(dataset: registry_pb2.Dataset) -> str:
    if dataset.classes:
        left_out = f", {dataset.invalid_count} left out" if dataset.invalid_count else ""
        shape = f"{_kind_name(dataset.kind)} examples, {len(dataset.classes)} classes{left_out}"
    else:
        shape = f"rows, {len(dataset.columns)} columns"
    return f"{dataset.name}: {dataset.row_count} {shape}, {size(dataset.size_bytes)}, sha256 {dataset.sha256[:12]}"


def cmd_upload(args, client: MaasClient) -> int:
    path = Path(args.file)
    if not path.is_file():
        raise CliError(f"{path}: no such file")
    with TransferProgress(f"uploading {path.name}") as progress:
        dataset = client.upload_dataset(
            args.name or dataset_id_from_path(path),
            path,
            args.format or "",
            description=args.description or "",
            progress=progress,
            kind=args.kind or "",
            text_column=args.text_column or "",
            label_column=args.label_column or "",
        )
    summary = _summary(dataset)
    if dataset.unchanged:
        summary += f"\nunchanged: the same bytes as version {dataset.version}, so no new version was made"
    emit(args, dataset, summary)
    return 0


def cmd_list(args, client: MaasClient) -> int:
    datasets = client.list_datasets(args.name or "", limit=args.limit)
    rows = [
        (d.name, _format_name(d.format), d.row_count, len(d.columns), size(d.size_bytes), timestamp(d.create_time))
        for d in datasets
    ]
    emit(args, datasets, table(("name", "format", "rows", "columns", "size", "created"), rows))
    return 0


def cmd_show(args, client: MaasClient) -> int:
    dataset = client.get_dataset(args.name, args.version)
    columns = table(
        ("column", "type", "shape"),
        ((c.name, c.datatype, "x".join(map(str, c.shape))) for c in dataset.columns),
    )
    if dataset.classes:
        columns = table(("class", "examples"), ((c.name, c.count) for c in dataset.classes))
        if dataset.invalid_examples:
            left_out = table(("left out", "reason"), ((e.name, e.reason) for e in dataset.invalid_examples))
            columns += f"\n\n{left_out}"
    stats = dataset.image_stats if dataset.HasField("image_stats") else None
    texts = dataset.text_stats if dataset.HasField("text_stats") else None
    about = fields(
        [
            ("name", dataset.name),
            ("kind", _kind_name(dataset.kind)),
            ("format", _format_name(dataset.format)),
            ("rows", dataset.row_count),
            ("left out", dataset.invalid_count or ""),
            (
                "image sizes",
                f"{stats.min_width}x{stats.min_height} to {stats.max_width}x{stats.max_height}, "
                f"{stats.channels} channel(s)"
                if stats
                else "",
            ),
            (
                "text lengths",
                f"{texts.min_chars} to {texts.max_chars} characters, mean {texts.mean_chars:.0f}" if texts else "",
            ),
            ("size", size(dataset.size_bytes)),
            ("sha256", dataset.sha256),
            ("description", dataset.description),
            ("created", timestamp(dataset.create_time)),
        ]
    )
    emit(args, dataset, f"{about}\n\n{columns}")
    return 0


def cmd_delete(args, client: MaasClient) -> int:
    one_version = args.version is not None or "/versions/" in args.name
    if one_version == args.all_versions:
        raise CliError("name one version (--version N, or datasets/NAME/versions/N) or pass --all-versions", EXIT_USAGE)
    name = dataset_name(args.name, args.version)
    deleted = client.delete_dataset(name)
    emit(
        args,
        {"name": name, "deletedVersions": deleted},
        f"deleted {deleted} version{'s' if deleted != 1 else ''} of {name}",
    )
    return 0


def register(commands) -> None:
    datasets = group(
        commands,
        "datasets",
        "upload, list, inspect and delete training data",
        "  maas datasets upload digits.csv\n  maas datasets list\n  maas datasets show digits\n"
        "  maas datasets delete digits --version 1\n",
    )
    upload = add_command(
        datasets,
        "upload",
        cmd_upload,
        help="upload a CSV, NPZ, JSON lines file or image archive as a new dataset version",
        description="Upload a CSV (with a header row) or NPZ file, a CSV or JSON lines file of texts and "
        "labels, or a zip or tar of images in class folders (or with a CSV of file names and labels) as a "
        "new version of a dataset; the registry checks it and records its schema, or its classes, sizes "
        "and the files it left out. Uploading under an existing name adds a version.",
        examples="  maas datasets upload digits.csv                  # dataset `digits`\n"
        "  maas datasets upload train.npz --name images --description 'first batch'\n"
        "  maas datasets upload photos.zip                  # an image dataset\n"
        "  maas datasets upload tickets.csv --kind text --text-column body --label-column team\n",
    )
    upload.add_argument("file", help="CSV, NPZ, JSON lines file, or a zip or tar of images")
    upload.add_argument("--name", help="dataset id (default: the file name, e.g. digits for digits.csv)")
    upload.add_argument(
        "--format", choices=("csv", "npz", "jsonl", "archive"), help="file format (default: from the file name)"
    )
    upload.add_argument("--kind", choices=("tabular", "text"), help="text: a CSV of texts and labels")
    upload.add_argument("--text-column", help="text datasets: the column or key of the text (default text)")
    upload.add_argument("--label-column", help="text datasets: the column or key of the label (default label)")
    upload.add_argument("--description", help="a note kept with the version")

    listing = add_command(
        datasets,
        "list",
        cmd_list,
        help="list dataset versions, newest first",
        examples="  maas datasets list\n  maas datasets list --name digits -o json\n",
    )
    listing.add_argument("--name", help="only versions of this dataset")
    listing.add_argument("--limit", type=int, help="show at most this many")

    show = add_command(
        datasets,
        "show",
        cmd_show,
        help="show a dataset version and its schema",
        examples="  maas datasets show digits                # latest version\n"
        "  maas datasets show digits --version 2\n",
    )
    show.add_argument("name", help="dataset id or name (datasets/digits/versions/2)")
    show.add_argument("--version", type=int, help="version number (default: the latest)")

    delete = add_command(
        datasets,
        "delete",
        cmd_delete,
        help="delete a dataset version, or every version, and the bytes nothing else uses",
        description="Delete one version of a dataset, or all of them with --all-versions; bytes no other "
        "dataset or model version uses are freed (they count against the plan's storage quota). Model "
        "versions trained on it keep its name in their lineage.",
        examples="  maas datasets delete digits --version 2\n  maas datasets delete digits --all-versions\n",
    )
    delete.add_argument("name", help="dataset id or name (datasets/digits/versions/2)")
    delete.add_argument("--version", type=int, help="the version to delete")
    delete.add_argument("--all-versions", action="store_true", help="delete every version of the dataset")
