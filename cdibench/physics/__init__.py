"""Numpy forward models of the experiments (no TensorFlow here)."""
