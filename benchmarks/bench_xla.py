"""Why the AD solvers sit above their FFT floor on a CPU: XLA:CPU's FFTs lose their threads.

XLA:CPU runs an FFT with ducc on the intra-op thread pool, and ducc runs single-threaded when it is
called from a thread of that pool. XLA's thunk executor moves to a pool thread as soon as one
elementwise kernel has run split over the pool (every large one), and stays there: inside a
compiled training step every FFT after the first kernel is single-threaded. On the 2-core CI VM
(TensorFlow 2.21) a (12, 1, 128, 128) complex64 FFT took 0.23 ms in a chain of FFTs and 0.35 ms,
the one-thread time, with a multiply between them; ad-ptycho's epoch spends ~17 ms of its ~26 ms in
such FFTs, against a ~10 ms floor timed outside XLA.

``track_fft_after_kernel_ratio`` is the time per FFT with a multiply after each, over the time per
FFT alone: 1.2-1.9 here across processes (median call ~1.6: now and then a call's kernels all
finish on the calling thread and its FFTs keep both threads); 1.08 with the process bound to one
core (the multiply's own cost), which is what a TensorFlow whose XLA kept the FFT's threads would
show on any number of cores.
"""

from __future__ import annotations

import numpy as np

from cdibench.harness.floor import best_time

from . import common

SHAPE = (12, 1, 128, 128)  # one ad-ptycho minibatch of the standard dataset
N_FFT = 20


class XlaFftThreads:
    """Compiled chains of N_FFT alternating FFT/inverse FFT, with and without a multiply after each."""

    timeout = 120

    def setup(self):
        tf = common.require_tensorflow()
        data = np.random.default_rng(0).standard_normal(SHAPE + (2,)).astype(np.float32)
        x = tf.constant(data[..., 0] + 1j * data[..., 1])

        def chain(between):
            @tf.function(jit_compile=True)
            def run():
                y = x
                for k in range(N_FFT):
                    y = between(tf.signal.fft2d(y) if k % 2 == 0 else tf.signal.ifft2d(y))
                return y
            return lambda: run().numpy()

        self.ffts = chain(lambda y: y)
        self.ffts_and_kernels = chain(lambda y: y * tf.constant(1.0001, y.dtype))

    def time_fft_alone(self):
        self.ffts()

    def time_fft_and_kernel(self):
        self.ffts_and_kernels()

    def track_fft_after_kernel_ratio(self):
        # fastest of 20 calls each
        return best_time(self.ffts_and_kernels, 20, 0.0) / best_time(self.ffts, 20, 0.0)

    track_fft_after_kernel_ratio.unit = "ratio"
