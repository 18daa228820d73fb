"""Training: ``train_classifier`` (split, fit, calibrate, thresholds, report) and the
``TrainedClassifier`` it returns, with its artifact format.

Modules: ``config`` (TrainConfig), ``build`` (the estimator a config describes), ``fit`` (the
procedure), ``evaluate`` (calibration, thresholds, held-out metrics), ``self_training``,
``classifier`` (TrainedClassifier), ``artifact`` (bytes on disk, old artifacts included),
``hierarchy_choice`` and ``prior_choice`` (structure and label-name prior chosen out of fold),
``taxonomy`` (parents and targets a training set can use), ``checks`` (input checks).
"""
from learner.training.checks import first_nonfinite_row
from learner.training.classifier import TrainedClassifier
from learner.training.config import TrainConfig
from learner.training.fit import train_classifier

__all__ = ["TrainConfig", "TrainedClassifier", "first_nonfinite_row", "train_classifier"]
