"""Generic training machinery: run options and the epoch loop."""

from shopaug.training.options import TrainOptions

__all__ = ["TrainOptions"]
