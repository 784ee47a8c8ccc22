"""Generic training machinery: run options and the epoch loop."""

from shopaug.training.options import TrainOptions, epochs_run

__all__ = ["TrainOptions", "epochs_run"]
