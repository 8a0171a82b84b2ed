"""`maas demo`: the user's journey against a running stack, on scikit-learn's digits.

Admin creates a tenant and key; the tenant uploads the digits as CSV (keeping a test split
aside), trains the `mlp` template, watches it, points `production` at the new version, and
scores the held-out test split through inference.
"""

from __future__ import annotations

import io
import secrets
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from maas.client import MaasClient, MaasError
from maas.trainer.v1 import trainer_pb2

TEST_FRACTION = 0.2


def _csv(features: np.ndarray, labels: np.ndarray) -> bytes:
    buffer = io.StringIO()
    buffer.write(",".join([*(f"pixel_{i}" for i in range(features.shape[1])), "label"]) + "\n")
    for row, label in zip(features, labels):
        buffer.write(",".join(str(int(v)) for v in row) + f",{int(label)}\n")
    return buffer.getvalue().encode()


def _digits_split(seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    from sklearn.datasets import load_digits

    features, labels = load_digits(return_X_y=True)
    order = np.random.default_rng(seed).permutation(len(features))
    test = order[: int(len(features) * TEST_FRACTION)]
    train = order[len(test) :]
    return features[train], labels[train], features[test], labels[test]


def digits_csv(seed: int = 0) -> tuple[bytes, np.ndarray, np.ndarray]:
    """Training CSV of the digits, and the held-out test features and labels."""
    train_x, train_y, test_x, test_y = _digits_split(seed)
    return _csv(train_x, train_y), test_x.astype(np.float32), test_y


def write_digits(directory: Path, seed: int = 0) -> tuple[Path, Path]:
    """`digits.csv` (training) and `digits-test.csv` (held out), both with a `label` column."""
    train_x, train_y, test_x, test_y = _digits_split(seed)
    directory.mkdir(parents=True, exist_ok=True)
    paths = directory / "digits.csv", directory / "digits-test.csv"
    paths[0].write_bytes(_csv(train_x, train_y))
    paths[1].write_bytes(_csv(test_x, test_y))
    return paths


def digit_image(pixels: np.ndarray, side: int) -> np.ndarray:
    """One 8x8 digit (values 0-16) as a `side` x `side` uint8 grey image (Pillow's bilinear resize)."""
    from PIL import Image

    grey = Image.fromarray((pixels.reshape(8, 8) * (255 / 16)).round().astype(np.uint8), mode="L")
    return np.asarray(grey.resize((side, side), Image.Resampling.BILINEAR))


def digits_png_zip(
    seed: int = 0, classes: tuple[int, ...] = tuple(range(10)), side: int = 32
) -> tuple[bytes, np.ndarray, np.ndarray]:
    """A zip of the training digits as PNG files in class folders (`digits/3/0042.png`), and the
    held-out test digits (their raw 8x8 values, 0-16) with their labels, of `classes` only."""
    import zipfile

    from PIL import Image

    train_x, train_y, test_x, test_y = _digits_split(seed)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as archive:
        for number, (pixels, label) in enumerate(zip(train_x, train_y)):
            if int(label) not in classes:
                continue
            png = io.BytesIO()
            Image.fromarray(digit_image(pixels, side), mode="L").save(png, format="PNG")
            archive.writestr(f"digits/{int(label)}/{number:04d}.png", png.getvalue())
    keep = np.isin(test_y, classes)
    return buffer.getvalue(), test_x[keep], test_y[keep]


_TOPICS = {
    "sport": (
        ["the striker", "our goalkeeper", "the coach", "the home team", "the referee", "the champion"],
        [
            "scored a late goal",
            "won the final match",
            "lost the league game",
            "trained before the derby",
            "celebrated the trophy",
            "missed a penalty kick",
        ],
        ["in the stadium", "after extra time", "during the tournament", "at the season opener"],
    ),
    "weather": (
        ["a cold front", "heavy rain", "the storm", "warm sunshine", "thick fog", "a strong wind"],
        [
            "is expected tomorrow",
            "flooded the valley",
            "will bring snow showers",
            "cleared by noon",
            "raised the temperature",
            "delayed the morning flights",
        ],
        ["across the north", "along the coast", "over the mountains", "this weekend"],
    ),
    "finance": (
        ["the central bank", "shareholders", "the stock market", "investors", "the company", "bond yields"],
        [
            "raised interest rates",
            "reported quarterly profits",
            "fell sharply on inflation fears",
            "approved a dividend",
            "rallied after earnings",
            "cut its revenue forecast",
        ],
        ["on wall street", "this quarter", "before the trading close", "amid recession worries"],
    ),
    "cooking": (
        ["the chef", "my grandmother", "this recipe", "the bakery", "our kitchen", "the restaurant"],
        [
            "roasted the vegetables",
            "baked fresh bread",
            "simmered a tomato sauce",
            "whisked the eggs",
            "seasoned the soup with garlic",
            "served a chocolate cake",
        ],
        ["for dinner", "in the oven", "with olive oil", "before the guests arrived"],
    ),
}


def topic_texts(count: int, seed: int = 0) -> tuple[list[str], list[str]]:
    """`count` short sentences about four topics (sport, weather, finance, cooking), drawn from
    templates whose vocabularies differ, and their topics."""
    rng = np.random.default_rng(seed)
    names = sorted(_TOPICS)
    texts, labels = [], []
    for _ in range(count):
        topic = names[rng.integers(len(names))]
        subjects, verbs, endings = _TOPICS[topic]
        words = [subjects[rng.integers(len(subjects))], verbs[rng.integers(len(verbs))]]
        if rng.random() < 0.7:
            words.append(endings[rng.integers(len(endings))])
        texts.append((" ".join(words) + rng.choice([".", "!", ""])).capitalize())
        labels.append(topic)
    return texts, labels


def _say(message: str) -> None:
    print(message, flush=True)


def _bar(done: int, total: int, width: int = 30) -> str:
    filled = int(width * done / max(total, 1))
    return "[" + "#" * filled + "." * (width - filled) + "]"


@dataclass(frozen=True)
class DemoResult:
    tenant: str
    api_key: str
    model_version: str
    accuracy: float


def run_demo(endpoint: str, admin_key: str, epochs: int = 30, tenant: str = "", plan: str = "") -> DemoResult:
    """Walk the journey; returns what it made and the held-out accuracy."""
    tenant = tenant or f"demo-{secrets.token_hex(3)}"
    with MaasClient(endpoint, admin_key) as admin:
        admin.create_tenant(tenant, display_name="MaaS demo", plan=plan)
        key = admin.create_api_key(tenant, display_name="demo key")
    _say(f"1/6 tenant {tenant!r} created with API key {key.api_key.prefix}...")

    with MaasClient(endpoint, key.secret) as client:
        csv_bytes, test_x, test_y = digits_csv()
        dataset = client.upload_dataset(
            "digits",
            csv_bytes,
            "csv",
            description="scikit-learn digits (training split)",
            progress=lambda sent, total: print(
                f"\r    uploading {_bar(sent, total)} {sent}/{total} bytes", end="", flush=True
            ),
        )
        print()
        _say(
            f"2/6 uploaded {dataset.name}: {dataset.row_count} rows, {len(dataset.columns)} columns, "
            f"sha256 {dataset.sha256[:12]}..."
        )

        job = client.create_training_job(
            dataset=dataset.name,
            label_column="label",
            target_model="digits",
            template="mlp",
            parameters={"hidden_units": [128, 64]},
            epochs=epochs,
            batch_size=32,
            learning_rate=0.002,
            request_id=f"demo-{tenant}",
        )
        _say(f"3/6 training job {job.name} queued ({epochs} epochs)")
        final = None
        for event in client.watch_training_job(job.name):
            kind = event.WhichOneof("kind")
            if kind == "epoch_end":
                e = event.epoch_end
                print(
                    f"\r    epoch {e.epoch:3d}/{e.total_epochs} {_bar(e.epoch, e.total_epochs)} "
                    f"loss {e.metrics.get('loss', 0):.4f} val_accuracy {e.metrics.get('val_accuracy', 0):.4f}",
                    end="",
                    flush=True,
                )
            elif kind == "state_change":
                final = event.state_change
        print()
        job = client.get_training_job(job.name)
        if job.state != trainer_pb2.TrainingJob.State.STATE_SUCCEEDED:
            raise SystemExit(
                f"training job ended {trainer_pb2.TrainingJob.State.Name(job.state)}: "
                f"{job.state_reason or (final.reason if final else '')}"
            )
        _say(
            f"4/6 job succeeded: registered {job.model_version} "
            f"(validation accuracy {job.evaluation.get('accuracy', 0):.4f})"
        )

        version = client.get_model_version(job.model_version)
        client.set_alias("digits", "production", version.version)
        _say(f"5/6 alias models/digits/aliases/production -> version {version.version}")

        outputs = client.predict("digits", test_x)
        predicted = outputs["probabilities"].argmax(axis=1)
        accuracy = float((predicted == test_y).mean())
        _say(f"6/6 held-out test accuracy: {accuracy:.4f} on {len(test_y)} digits never seen in training")
        for i in range(5):
            _say(
                f"    digit #{i}: true {int(test_y[i])}, predicted {int(predicted[i])} "
                f"(p={outputs['probabilities'][i].max():.3f})"
            )
    return DemoResult(tenant, key.secret, version.name, accuracy)


def main(endpoint: str, admin_key: str, epochs: int) -> int:
    try:
        result = run_demo(endpoint, admin_key, epochs)
    except MaasError as error:
        print(f"demo failed: {error}", file=sys.stderr)
        return 1
    print(f"held-out accuracy: {result.accuracy:.4f}")
    return 0
