"""The final model: the sentence encoder fine-tuned contrastively on the labeled set (SetFit-style
pairs, sentence-transformers' ``CosineSimilarityLoss``), then the usual head, calibration and
thresholds on its embeddings (``learner.training.train_classifier``).

Modules: ``pairs`` (the balanced positive / negative pairs), ``contrastive`` (fine-tuning one
encoder, saving and loading it as a sentence-transformers folder), ``final`` (the procedure: a
cross-fitted out-of-fold comparison with the frozen encoder, then the fit on every label).

Django-free; torch and sentence-transformers are imported inside the functions that train, as
everywhere in the library (they are heavy).
"""
from learner.finetune.contrastive import FinetuneConfig, finetune_encoder, load_encoder
from learner.finetune.final import FinalModel, train_final_model
from learner.finetune.pairs import make_pairs

__all__ = ["FinalModel", "FinetuneConfig", "finetune_encoder", "load_encoder", "make_pairs", "train_final_model"]
