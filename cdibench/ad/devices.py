"""TensorFlow devices, for ``cdibench info`` and result provenance."""

from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import tensorflow as tf  # noqa: E402


def list_devices() -> list[dict]:
    """Logical devices TensorFlow sees: name, type and (for GPUs) the device description."""
    out = []
    for dev in tf.config.list_physical_devices():
        details = tf.config.experimental.get_device_details(dev) if dev.device_type == "GPU" else {}
        out.append({"name": dev.name, "type": dev.device_type,
                    "description": details.get("device_name", "")})
    return out


def tensorflow_build() -> dict:
    """Version and CUDA build information of the loaded TensorFlow."""
    info = tf.sysconfig.get_build_info()
    return {"tensorflow": tf.__version__, "cuda": info.get("cuda_version"), "cudnn": info.get("cudnn_version")}


def device_name(device: str | None = None) -> str:
    """Human name of the device a run uses: the GPU's model when TensorFlow places work there."""
    gpus = tf.config.list_physical_devices("GPU")
    if gpus and (device is None or "GPU" in device.upper()):
        details = tf.config.experimental.get_device_details(gpus[0])
        return details.get("device_name", "GPU")
    return "CPU"


def fft_timer(data, count: int = 1):
    """A callable running ``count`` TensorFlow 2D FFTs (alternating forward and inverse, one graph,
    so per-call dispatch is paid once as in a compiled training step) on complex ``data``."""
    x = tf.constant(data)

    @tf.function
    def run():
        y = x
        for k in range(count):
            y = tf.signal.fft2d(y) if k % 2 == 0 else tf.signal.ifft2d(y)
        return y

    return lambda: run().numpy()
