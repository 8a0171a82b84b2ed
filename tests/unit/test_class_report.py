"""The per-class report shared by the classifier jobs: precision, recall, support and the confusion
matrix on a small case worked by hand, the samples, and the loss and accuracy of the same pass."""

import math

import numpy as np
import pytest

from services.trainer.class_report import REPORT_SAMPLES, classification_report, feature_row, per_class

NAMES = ["cat", "dog", "owl"]


def test_precision_and_recall_of_a_known_confusion_matrix():
    # Rows: true class; columns: predicted. cat: 3 right, 1 taken for a dog; dog: 2 right,
    # 2 taken for cats; owl: never seen, and predicted once (a dog taken for an owl).
    matrix = np.array([[3, 1, 0], [2, 2, 1], [0, 0, 0]])
    report = per_class(matrix, NAMES)
    assert list(report.class_names) == NAMES
    # Precision: right / predicted as the class (column sums 5, 3, 1).
    assert list(report.precision) == pytest.approx([3 / 5, 2 / 3, 0.0])
    # Recall: right / truly of the class (row sums 4, 5, 0; an absent class scores 0, not NaN).
    assert list(report.recall) == pytest.approx([3 / 4, 2 / 5, 0.0])
    assert list(report.support) == [4, 5, 0]
    assert list(report.confusion_matrix) == [3, 1, 0, 2, 2, 1, 0, 0, 0]


def test_a_matrix_of_the_wrong_size_is_refused():
    with pytest.raises(ValueError):
        per_class(np.zeros((2, 2), dtype=np.int64), NAMES)


class Fixed:
    """A 'model' answering fixed probabilities per row, looked up by the row's first feature."""

    def __init__(self, answers: dict[int, list[float]]):
        self.answers = answers

    def __call__(self, inputs, training=False):
        assert training is False
        return np.array([self.answers[int(row[0])] for row in inputs])


def test_the_report_of_a_model_over_batches_with_samples_loss_and_accuracy():
    answers = {0: [0.7, 0.2, 0.1], 1: [0.1, 0.8, 0.1], 2: [0.6, 0.3, 0.1], 3: [0.2, 0.2, 0.6]}
    x = np.array([[0, 1.5], [1, 2], [2, 0.25], [3, 4], [0, 5]] * 2, dtype=np.float32)
    y = np.array([0, 1, 1, 2, 0] * 2)
    batches = [(x[:3], y[:3]), (x[3:7], y[3:7]), (x[7:], y[7:])]
    report, metrics = classification_report(Fixed(answers), batches, NAMES, feature_row)
    # Per pair of rows: cat right twice, dog right once and taken for a cat once, owl right.
    assert list(report.confusion_matrix) == [4, 0, 0, 2, 2, 0, 0, 0, 2]
    assert sum(report.confusion_matrix) == len(x)
    assert list(report.precision) == pytest.approx([4 / 6, 1.0, 1.0])
    assert list(report.recall) == pytest.approx([1.0, 0.5, 1.0])
    assert metrics["accuracy"] == pytest.approx(8 / 10)
    expected_loss = -2 * (2 * math.log(0.7) + math.log(0.8) + math.log(0.3) + math.log(0.6)) / 10
    assert metrics["loss"] == pytest.approx(expected_loss)
    # The first rows, across batches, with what the model said and the row's values.
    assert len(report.samples) == REPORT_SAMPLES
    third = report.samples[2]
    assert (third.true_label, third.predicted_label, third.text) == ("dog", "cat", "2, 0.25")
    assert third.confidence == pytest.approx(0.6)
    assert not third.thumbnail_png


def test_a_long_row_is_cut_to_the_sample_text_limit():
    text = feature_row(np.arange(1000, 2000, dtype=np.float32))["text"]
    assert len(text) == 300 and text.startswith("1000, 1001, ") and text.endswith("…")


def test_image_and_text_batches_from_tf_data_show_as_thumbnails_and_texts():
    import tensorflow as tf

    from services.trainer.classifiers import sample_content

    def always_first(inputs, training=False):
        return tf.one_hot(tf.zeros([tf.shape(inputs)[0]], tf.int32), len(NAMES))

    texts = tf.data.Dataset.from_tensor_slices((["a cat", "a dog"], [0, 1])).batch(2)
    report, metrics = classification_report(always_first, texts, NAMES, sample_content)
    assert [s.text for s in report.samples] == ["a cat", "a dog"]
    assert list(report.recall) == pytest.approx([1.0, 0.0, 0.0]) and metrics["accuracy"] == 0.5
    images = tf.data.Dataset.from_tensor_slices((tf.zeros([3, 8, 8, 1], tf.uint8), [2, 2, 0])).batch(2)
    report, _ = classification_report(always_first, images, NAMES, sample_content)
    assert all(s.thumbnail_png.startswith(b"\x89PNG") and not s.text for s in report.samples)
    assert list(report.confusion_matrix) == [1, 0, 0, 0, 0, 0, 2, 0, 0]
