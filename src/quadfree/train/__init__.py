"""The trainer shared by every radiance method, its configuration and checkpoints."""

from quadfree.train.checkpoint import load_checkpoint, load_run, save_checkpoint
from quadfree.train.config import TrainConfig
from quadfree.train.trainer import Trainer, train_run

__all__ = ["TrainConfig", "Trainer", "load_checkpoint", "load_run", "save_checkpoint",
           "train_run"]
