"""Drift: a version registered with its training data's reference statistics is scored against
the inputs it serves (PSI and Kolmogorov-Smirnov per feature, the predicted classes' shares);
shifted inputs raise the scores, unshifted ones do not, and the latest scores are the version's
drift report in the registry. A real inference server beside a real registry, with a small real
SavedModel."""

import hashlib
import threading

import grpc
import numpy as np
import pytest

from maas.registry.v1 import registry_pb2 as rpb
from services.common.drift import reference_statistics
from services.trainer.export import export_saved_model
from tests.conftest import status_of, tenant_md
from tests.integration.serving import registry_and_inference
from tests.integration.test_inference_service import FEATURES, infer_request, tiny_model
from tests.integration.test_registry_service import upload_artifact

pytestmark = pytest.mark.slow
MD = tenant_md("acme")
TRAINING = np.random.default_rng(0).normal(size=(2000, FEATURES))


def create(registry, artifact: str, reference: rpb.ReferenceStatistics) -> rpb.ModelVersion:
    signature = rpb.Signature(
        method_name="serving_default",
        inputs=[rpb.TensorSpec(name="features", datatype="FP32", shape=[-1, FEATURES])],
        outputs=[rpb.TensorSpec(name="probabilities", datatype="FP32", shape=[-1, 3])],
    )
    version = rpb.ModelVersion(artifact=artifact, signature=signature, reference_statistics=reference)
    return registry.CreateModelVersion(
        rpb.CreateModelVersionRequest(parent="models/tiny", model_version=version), metadata=MD
    )


def psi(metrics, feature: int, measure: str = "psi") -> float | None:
    labels = {"tenant": "acme", "model": "tiny", "version": "1", "feature": f"features[{feature}]"}
    return metrics.get_sample_value(f"maas_inference_feature_drift_{measure}", labels)


def prediction_psi(metrics) -> float | None:
    labels = {"tenant": "acme", "model": "tiny", "version": "1"}
    return metrics.get_sample_value("maas_inference_prediction_drift_psi", labels)


def test_shifted_inputs_raise_the_drift_score_and_unshifted_do_not(tmp_path):
    settings = {"drift_sample_percent": 100, "drift_interval_seconds": 0.2, "drift_window_rows": 500}
    with registry_and_inference(tmp_path / "maas", **settings) as serving:
        registry = serving["registry"]
        model = tiny_model(1)
        archive = export_saved_model(model, FEATURES, "probabilities", tmp_path)
        artifact = upload_artifact(registry, "acme", archive, hashlib.sha256(archive).hexdigest()).name
        scores = model.predict(TRAINING, verbose=0)
        reference = reference_statistics(TRAINING, scores=scores, output_name="probabilities")
        assert len(reference.prediction_shares) == 3
        stored = create(registry, artifact, reference)
        assert stored.reference_statistics == reference
        # Bins the registry could not compare with are refused.
        broken = rpb.ReferenceStatistics()
        broken.CopyFrom(reference)
        broken.features[0].bin_shares.append(0.5)
        assert status_of(lambda: create(registry, artifact, broken)) == grpc.StatusCode.INVALID_ARGUMENT
        # So are predicted classes' shares that do not sum to 1.
        broken.CopyFrom(reference)
        broken.prediction_shares[0] += 0.5
        assert status_of(lambda: create(registry, artifact, broken)) == grpc.StatusCode.INVALID_ARGUMENT
        registry.SetAlias(
            rpb.SetAliasRequest(alias=rpb.Alias(name="models/tiny/aliases/production", version=1)), metadata=MD
        )
        oip, metrics = serving["oip"], serving["metrics"]
        served = np.random.default_rng(1)

        def serve(shift: float, rows: int = 600) -> None:
            for _ in range(rows // 20):
                x = served.normal(size=(20, FEATURES)) + shift
                oip.ModelInfer(infer_request(x.astype(np.float32)), metadata=MD)
            threading.Event().wait(0.6)  # a few scoring rounds

        def report() -> rpb.DriftReport:
            name = "models/tiny/versions/1"
            return registry.GetModelVersion(rpb.GetModelVersionRequest(name=name), metadata=MD).drift

        serve(0.0)
        calm = [psi(metrics, i) for i in range(FEATURES)]
        calm_ks = [psi(metrics, i, "ks") for i in range(FEATURES)]
        calm_predictions = prediction_psi(metrics)
        calm_report = report()
        serve(1.5)
        shifted = [psi(metrics, i) for i in range(FEATURES)]
        shifted_ks = [psi(metrics, i, "ks") for i in range(FEATURES)]
        shifted_predictions = prediction_psi(metrics)
        print(
            f"\nPSI per feature, served as trained: {np.round(calm, 3)}; shifted by 1.5 sd: {np.round(shifted, 3)}"
            f"\nKS per feature, served as trained: {np.round(calm_ks, 3)}; shifted: {np.round(shifted_ks, 3)}"
            f"\nPSI of the predicted classes, served as trained: {calm_predictions:.3f}; "
            f"shifted: {shifted_predictions:.3f} (reference shares {np.round(reference.prediction_shares, 3)}, "
            f"served shifted {np.round(report().prediction_shares, 3)})"
        )
        assert all(score is not None and score < 0.1 for score in calm), calm
        assert all(score > 0.25 for score in shifted), shifted
        # 500 rows against 2,000: about 0.07 at the 5 % level; a 1.5 sd shift is 0.55 at the median.
        assert all(score < 0.1 for score in calm_ks), calm_ks
        assert all(score > 0.4 for score in shifted_ks), shifted_ks
        assert calm_predictions < 0.1 < shifted_predictions
        # The registry keeps the latest scores as the version's drift report.
        assert [f.name for f in calm_report.features] == [f.name for f in reference.features]
        assert all(f.ks < 0.1 for f in calm_report.features), calm_report
        shifted_report = report()
        assert shifted_report.row_count == 500 and len(shifted_report.prediction_shares) == 3
        assert all(f.ks > 0.4 and f.psi > 0.25 for f in shifted_report.features), shifted_report
        # A report that is not of the version's reference is refused.
        wrong = rpb.DriftReport(features=[rpb.FeatureDrift(name="other")])
        request = rpb.ReportModelVersionDriftRequest(name="models/tiny/versions/1", drift=wrong)
        refused = status_of(lambda: registry.ReportModelVersionDrift(request, metadata=MD))
        assert refused == grpc.StatusCode.INVALID_ARGUMENT
