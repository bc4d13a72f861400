"""TensorFlow automatic-differentiation solvers: the only package of cdibench that imports TensorFlow."""
