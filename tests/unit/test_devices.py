"""Inference runs on the CPU by default and refuses a GPU it does not have."""

import os
import subprocess
import sys

import pytest

pytestmark = pytest.mark.slow

_PROBE = """
import sys
from services.inference.config import InferenceSettings
from services.inference.devices import configure_tensorflow
try:
    device = configure_tensorflow(InferenceSettings(device=sys.argv[1], intra_op_threads=1))
except RuntimeError as error:
    print("refused:", error)
    raise SystemExit(0)
import tensorflow as tf
print(device, len(tf.config.get_visible_devices("GPU")), tf.config.threading.get_intra_op_parallelism_threads())
"""


def _probe(device: str) -> str:
    # A process of its own: TensorFlow's devices can be set only before its first use.
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    out = subprocess.run([sys.executable, "-c", _PROBE, device], capture_output=True, text=True, check=True, env=env)
    return out.stdout.strip().splitlines()[-1]  # after the log line


def test_cpu_by_default_with_the_thread_setting():
    assert _probe("cpu") == "CPU 0 1"


def test_gpu_required_but_absent_is_refused_and_auto_falls_back_to_cpu():
    import tensorflow as tf

    if tf.config.list_physical_devices("GPU"):
        pytest.skip("this machine has a GPU")
    assert _probe("gpu").startswith("refused: MAAS_DEVICE=gpu")
    assert _probe("auto").startswith("CPU 0")
