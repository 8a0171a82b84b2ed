"""Where models run: TensorFlow's devices and threads, set once per process before any model loads."""

from __future__ import annotations

import structlog

from services.inference.config import InferenceSettings

log = structlog.get_logger("maas.inference.devices")
# TensorFlow fixes devices and threads at its first use, so they are set once per process.
_configured: str | None = None


def configure_tensorflow(settings: InferenceSettings) -> str:
    """Apply the device and thread settings; returns the device models are placed on."""
    global _configured
    if _configured is not None:
        return _configured
    import tensorflow as tf

    gpus = tf.config.list_physical_devices("GPU")
    if settings.device == "gpu" and not gpus:
        raise RuntimeError("MAAS_DEVICE=gpu, but TensorFlow sees no GPU on this machine")
    use_gpu = bool(gpus) and settings.device in ("gpu", "auto")
    if not use_gpu:
        # CPU by default: a GPU pod opts in, and a CPU pod never grabs a GPU it was not given.
        tf.config.set_visible_devices([], "GPU")
    else:
        for gpu in gpus:
            if settings.gpu_memory_limit_mb:
                tf.config.set_logical_device_configuration(
                    gpu, [tf.config.LogicalDeviceConfiguration(memory_limit=settings.gpu_memory_limit_mb)]
                )
            else:
                # Grow on demand instead of taking all of the GPU's memory at the first model.
                tf.config.experimental.set_memory_growth(gpu, settings.gpu_memory_growth)
    if settings.intra_op_threads:
        tf.config.threading.set_intra_op_parallelism_threads(settings.intra_op_threads)
    if settings.inter_op_threads:
        tf.config.threading.set_inter_op_parallelism_threads(settings.inter_op_threads)
    device = _configured = "GPU" if use_gpu else "CPU"
    log.info("tensorflow devices", device=device, gpus=len(gpus), intra_op_threads=settings.intra_op_threads)
    return device
