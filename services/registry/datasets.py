"""Datasets of every tenant: versioned, each version one artifact with its schema."""

from __future__ import annotations

import base64
import tarfile
import tempfile
import zipfile
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError

from maas.registry.v1 import registry_pb2 as pb
from services.common.archives import ArchiveTooLarge, BrokenArchive, UnsafeArchive, extract_archive
from services.common.errors import InvalidArgument, NotFound
from services.common.labelled import Profile, profile_images, profile_texts
from services.common.tabular import TableInfo, inspect_csv, inspect_npz
from services.common.timeutil import now, set_timestamp
from services.common.validation import decode_page_token, encode_page_token
from services.registry import tables as t
from services.registry.artifacts import ArtifactStore

Format, Kind = pb.DatasetFormat, pb.DatasetKind


def inspect_upload(header: pb.CreateDatasetRequest.Header, path: Path) -> tuple[TableInfo, Profile | None]:
    """Check an uploaded file against its declared format and kind, and describe it; fills the
    header's kind and text and label columns in place."""
    kinds = {
        Format.DATASET_FORMAT_CSV: (Kind.DATASET_KIND_TABULAR, Kind.DATASET_KIND_TEXT),
        Format.DATASET_FORMAT_NPZ: (Kind.DATASET_KIND_TABULAR,),
        Format.DATASET_FORMAT_JSONL: (Kind.DATASET_KIND_TEXT,),
        Format.DATASET_FORMAT_ARCHIVE: (Kind.DATASET_KIND_IMAGE,),
    }
    allowed = kinds.get(header.format)
    if allowed is None:
        raise InvalidArgument("header.format: CSV, NPZ, JSONL or ARCHIVE is required")
    header.kind = header.kind or allowed[0]
    if header.kind not in allowed:
        raise InvalidArgument(
            f"header.kind: a {Format.Name(header.format)} dataset is "
            f"{' or '.join(Kind.Name(k) for k in allowed)}, not {Kind.Name(header.kind)}"
        )
    if header.kind != Kind.DATASET_KIND_TEXT and (header.text_column or header.label_column):
        raise InvalidArgument("header.text_column, header.label_column: only for text datasets")
    if header.kind == Kind.DATASET_KIND_TABULAR:
        inspect = inspect_csv if header.format == Format.DATASET_FORMAT_CSV else inspect_npz
        return inspect(path), None
    if header.kind == Kind.DATASET_KIND_TEXT:
        header.text_column = header.text_column or "text"
        header.label_column = header.label_column or "label"
        if header.text_column == header.label_column:
            raise InvalidArgument("header.text_column, header.label_column: must differ")
        profile = profile_texts(
            path, header.format == Format.DATASET_FORMAT_JSONL, header.text_column, header.label_column
        )
        return TableInfo(columns=[], row_count=profile.row_count), profile
    with tempfile.TemporaryDirectory(prefix="maas-dataset-") as unpacked:
        try:
            extract_archive(path, Path(unpacked))
        except (ArchiveTooLarge, BrokenArchive, UnsafeArchive) as error:
            raise InvalidArgument(f"image archive: {error}") from None
        except (tarfile.TarError, zipfile.BadZipFile, OSError, EOFError) as error:
            raise InvalidArgument(f"image archive: not a readable zip or tar ({error})") from None
        profile = profile_images(Path(unpacked))
    return TableInfo(columns=[], row_count=profile.row_count), profile


def _profile_fields(dataset: pb.Dataset, profile: dict) -> None:
    dataset.kind = Kind.DATASET_KIND_IMAGE if profile["kind"] == "image" else Kind.DATASET_KIND_TEXT
    for name, count in profile["classes"].items():
        dataset.classes.add(name=name, count=count)
    if profile["image_stats"]:
        dataset.image_stats.CopyFrom(pb.ImageStats(**profile["image_stats"]))
    if profile["text_stats"]:
        dataset.text_stats.CopyFrom(pb.TextStats(**profile["text_stats"]))
    for sample in profile["samples"]:
        dataset.samples.add(
            label=sample["label"],
            text=sample.get("text", ""),
            file=sample.get("file", ""),
            thumbnail_png=base64.b64decode(sample.get("thumbnail_png", "")),
        )
    dataset.invalid_count = profile["invalid_count"]
    for name, reason in profile["invalid"]:
        dataset.invalid_examples.add(name=name, reason=reason)
    dataset.text_column = profile["text_column"]
    dataset.label_column = profile["label_column"]


class DatasetCatalogue:
    """Dataset versions: numbered per dataset id, content-addressed, deleted with their bytes."""

    def __init__(self, engine: Engine, artifacts: ArtifactStore) -> None:
        self.engine = engine
        self.artifacts = artifacts

    @staticmethod
    def _dataset_message(row) -> pb.Dataset:
        dataset = pb.Dataset(
            name=f"datasets/{row.dataset_id}/versions/{row.version}",
            dataset_id=row.dataset_id,
            version=row.version,
            format=row.format,
            row_count=row.row_count,
            sha256=row.sha256,
            size_bytes=row.size_bytes,
            artifact=f"artifacts/{row.sha256}",
            description=row.description,
            labels=row.labels,
        )
        for column in row.columns:
            dataset.columns.add(**column)
        if row.profile:
            _profile_fields(dataset, row.profile)
        else:
            dataset.kind = Kind.DATASET_KIND_TABULAR
        set_timestamp(dataset.create_time, row.create_time)
        return dataset

    def create(
        self,
        tenant: str,
        header: pb.CreateDatasetRequest.Header,
        sha256: str,
        size: int,
        info: TableInfo,
        profile: Profile | None = None,
    ) -> pb.Dataset:
        for attempt in range(5):
            try:
                with self.engine.begin() as conn:
                    newest = conn.execute(
                        sa.select(t.datasets.c.version, t.datasets.c.sha256, t.datasets.c.format)
                        .where(t.datasets.c.tenant == tenant, t.datasets.c.dataset_id == header.dataset_id)
                        .order_by(t.datasets.c.version.desc())
                        .limit(1)
                    ).first()
                    if newest is not None and (newest.sha256, newest.format) == (sha256, header.format):
                        # The same file again: say so, rather than make a version that changes nothing.
                        same = self.get(tenant, header.dataset_id, newest.version)
                        same.unchanged = True
                        return same
                    self.artifacts.register(conn, tenant, sha256, size)
                    latest = newest.version if newest is not None else 0
                    conn.execute(
                        t.datasets.insert().values(
                            tenant=tenant,
                            dataset_id=header.dataset_id,
                            version=latest + 1,
                            format=header.format,
                            columns=[{"name": c.name, "datatype": c.datatype, "shape": c.shape} for c in info.columns],
                            row_count=info.row_count,
                            sha256=sha256,
                            size_bytes=size,
                            description=header.description,
                            labels=dict(header.labels),
                            create_time=now(),
                            profile=profile.to_json() if profile else None,
                        )
                    )
                return self.get(tenant, header.dataset_id, latest + 1)
            except IntegrityError:
                # Another upload of the same dataset took this version number: take the next.
                if attempt == 4:
                    raise
        raise AssertionError("unreachable")

    def get(self, tenant: str, dataset_id: str, version: int | None) -> pb.Dataset:
        query = sa.select(t.datasets).where(t.datasets.c.tenant == tenant, t.datasets.c.dataset_id == dataset_id)
        query = query.where(t.datasets.c.version == version) if version else query.order_by(t.datasets.c.version.desc())
        with self.engine.connect() as conn:
            row = conn.execute(query.limit(1)).first()
        if row is None:
            shown = f"{dataset_id!r} version {version}" if version else repr(dataset_id)
            raise NotFound(f"dataset {shown} not found")
        return self._dataset_message(row)

    def delete(self, tenant: str, dataset_id: str, version: int | None) -> int:
        """Delete one version of a dataset, or all of them (None); returns how many went."""
        query = sa.select(t.datasets.c.id, t.datasets.c.sha256).where(
            t.datasets.c.tenant == tenant, t.datasets.c.dataset_id == dataset_id
        )
        if version is not None:
            query = query.where(t.datasets.c.version == version)
        with self.engine.begin() as conn:
            rows = conn.execute(query.with_for_update()).all()
            if not rows:
                what = f"version {version} of dataset" if version is not None else "dataset"
                raise NotFound(f"{what} {dataset_id!r} not found")
            conn.execute(t.datasets.delete().where(t.datasets.c.id.in_([row.id for row in rows])))
            self.artifacts.mark_unreferenced(conn, tenant, {row.sha256 for row in rows})
        self.artifacts.reclaim()
        return len(rows)

    def list(self, tenant: str, dataset_id: str, page_size: int, page_token: str):
        cursor = decode_page_token(page_token)
        query = (
            sa.select(t.datasets)
            .where(t.datasets.c.tenant == tenant)
            .order_by(t.datasets.c.dataset_id, t.datasets.c.version)
        )
        if dataset_id:
            query = query.where(t.datasets.c.dataset_id == dataset_id)
        if cursor:
            key, version = str(cursor[0]), int(cursor[1])
            query = query.where(
                sa.or_(
                    t.datasets.c.dataset_id > key,
                    sa.and_(t.datasets.c.dataset_id == key, t.datasets.c.version > version),
                )
            )
        with self.engine.connect() as conn:
            rows = conn.execute(query.limit(page_size + 1)).all()
        last = rows[page_size - 1] if len(rows) > page_size else None
        next_token = encode_page_token([last.dataset_id, last.version]) if last else ""
        return [self._dataset_message(r) for r in rows[:page_size]], next_token
