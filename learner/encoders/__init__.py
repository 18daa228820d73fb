"""Encoder backends other than sentence-transformers on torch: an ONNX Runtime copy of the same
model, exported locally from its files and cached by their hash, reused only with the package
versions and recipe it was built with (``onnx_export``), and the runtime that reproduces
sentence-transformers' tokenisation, mean pooling and L2 normalisation (``onnx_backend``).
``learner.embedding`` chooses between them; ``check`` holds what every backend is measured against."""
