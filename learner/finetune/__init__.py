"""The final model: the sentence encoder fine-tuned on the labeled set, then the usual head,
calibration and thresholds on its embeddings (``learner.training.train_classifier``). Two ways to
fine-tune (``FinetuneConfig.method``): ``distill`` (the default: end to end with a linear head,
cross-entropy on the labels plus the frozen head's probabilities on unlabeled texts) and
``contrastive`` (SetFit-style pairs, sentence-transformers' ``CosineSimilarityLoss``).

Modules: ``pairs`` (the balanced positive / negative pairs), ``contrastive`` (the options,
contrastive fine-tuning, saving and loading an encoder as a sentence-transformers folder),
``distill`` (the distillation fine-tune), ``final`` (the procedure: a cross-fitted out-of-fold
comparison with the frozen encoder, then the fit on every label).

Django-free; torch, sentence-transformers and scikit-learn are imported inside the functions that
train, as everywhere in the library (they are heavy).

The package itself offers only its light modules (``contrastive``'s options and functions,
``pairs``): the settings check ``FinetuneConfig`` at every process start, so importing the package
must not load the training stack. The procedure lives in its submodules (``from
learner.finetune.final import train_final_model``, ``from learner.finetune.distill import
distill_encoder``).
"""
from learner.finetune.contrastive import FinetuneConfig, finetune_encoder, load_encoder
from learner.finetune.pairs import make_pairs

__all__ = ["FinetuneConfig", "finetune_encoder", "load_encoder", "make_pairs"]
