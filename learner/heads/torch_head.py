"""A linear (or one hidden layer) torch head with weighted cross-entropy, focal loss or
logit-adjusted loss, bias initialised to the log class priors; trained on the GPU when there is
one, seeded and deterministic on CPU. After training its weights are kept as numpy arrays, so
inference and pickling need neither torch nor the device it was trained on."""
from __future__ import annotations

import numpy as np

from learner.heads.base import Head, check_fit_input, limited_threads
from learner.weighting import class_weights

LOSSES = ("ce", "focal", "logit_adjusted")


def focal_loss(logits, target, gamma: float = 2.0, alpha=None, sample_weight=None):
    """Mean focal loss (Lin et al., 2017): ``-α_t (1 - p_t)^γ log p_t`` per row, weighted by
    ``sample_weight`` and divided by its sum. ``alpha``: None (1), a float, or a per-class tensor.
    γ = 0 and α = 1 gives plain cross-entropy. Torch tensors in, scalar tensor out."""
    import torch  # heavy (about a second and 300 MB): loaded only when this head is used

    log_p = torch.log_softmax(logits, dim=1)
    log_pt = log_p.gather(1, target[:, None]).squeeze(1)
    pt = log_pt.exp()
    loss = -((1 - pt) ** gamma) * log_pt
    if alpha is not None:
        loss = loss * (alpha[target] if torch.is_tensor(alpha) and alpha.ndim == 1 else alpha)
    if sample_weight is None:
        return loss.mean()
    return (loss * sample_weight).sum() / sample_weight.sum()


def pick_device(device: str | None = None) -> str:
    import torch  # heavy (about a second and 300 MB): loaded only when this head is used

    if device:
        return device
    return "cuda" if torch.cuda.is_available() else "cpu"


class TorchHead(Head):
    def __init__(self, hidden: int = 0, loss: str = "ce", weighting: str = "inverse", beta: float = 0.999,
                 gamma: float = 2.0, alpha: float | None = None, tau: float = 1.0, epochs: int = 200,
                 lr: float = 0.03, weight_decay: float = 1e-4, batch_size: int = 4096, max_steps: int = 3000,
                 device: str | None = None, threads: int | None = 1, seed: int = 0):
        if loss not in LOSSES:
            raise ValueError(f"unknown loss {loss!r}; expected one of {LOSSES}")
        self.hidden, self.loss, self.weighting, self.beta = hidden, loss, weighting, beta
        self.gamma, self.alpha, self.tau = gamma, alpha, tau
        self.epochs, self.lr, self.weight_decay = epochs, lr, weight_decay
        self.batch_size, self.max_steps, self.device, self.seed = batch_size, max_steps, device, seed
        self.threads = threads

    def fit(self, X, y, sample_weight=None):
        with limited_threads(self.threads):
            return self._fit(X, y, sample_weight)

    def _fit(self, X, y, sample_weight=None):
        import torch  # heavy (about a second and 300 MB): loaded only when this head is used

        X, y_idx, classes, counts, sample_weight = check_fit_input(X, y, sample_weight)
        n, d = X.shape
        k = len(classes)
        per_class = class_weights(counts, self.weighting, self.beta)
        self.classes_ = classes
        self.class_weights_ = {str(c): float(w) for c, w in zip(classes, per_class, strict=True)}
        device = pick_device(self.device)
        self.device_used_ = device
        generator = torch.Generator().manual_seed(self.seed)
        torch.manual_seed(self.seed)

        log_prior = torch.tensor(np.log(counts / counts.sum()), dtype=torch.float32)
        layers = []
        width = d
        if self.hidden:
            layers += [torch.nn.Linear(d, self.hidden), torch.nn.ReLU()]
            width = self.hidden
        out = torch.nn.Linear(width, k)
        layers.append(out)
        with torch.no_grad():
            for layer in layers:
                if isinstance(layer, torch.nn.Linear):
                    bound = 1 / np.sqrt(layer.in_features)
                    layer.weight.copy_(torch.rand(layer.weight.shape, generator=generator) * 2 * bound - bound)
                    layer.bias.zero_()
            # Start from the class priors; with logit adjustment the loss already adds τ·log π,
            # so the bias starts at (1 - τ)·log π and the training logits start at the prior.
            out.bias.copy_(log_prior * (1 - self.tau) if self.loss == "logit_adjusted" else log_prior)
        net = torch.nn.Sequential(*layers).to(device)

        Xt = torch.from_numpy(X).to(device)
        yt = torch.from_numpy(y_idx.astype(np.int64)).to(device)
        wt = torch.from_numpy(sample_weight.astype(np.float32)).to(device)
        class_w = torch.tensor(per_class, dtype=torch.float32, device=device)
        adjust = (self.tau * log_prior).to(device)
        optimizer = torch.optim.Adam(net.parameters(), lr=self.lr, weight_decay=self.weight_decay)

        batch = min(self.batch_size, n)
        steps_per_epoch = int(np.ceil(n / batch))
        epochs = max(1, min(self.epochs, self.max_steps // steps_per_epoch))
        self.steps_ = 0
        net.train()
        for _ in range(epochs):
            order = torch.randperm(n, generator=generator).to(device) if batch < n else None
            for s in range(steps_per_epoch):
                rows = order[s * batch:(s + 1) * batch] if order is not None else slice(None)
                logits = net(Xt[rows])
                target, w = yt[rows], wt[rows]
                if self.loss == "focal":
                    alpha = class_w if self.alpha is None else self.alpha
                    loss = focal_loss(logits, target, self.gamma, alpha, w)
                else:
                    if self.loss == "logit_adjusted":
                        logits = logits + adjust
                    per_row = torch.nn.functional.cross_entropy(logits, target, reduction="none")
                    row_w = w * class_w[target]
                    loss = (per_row * row_w).sum() / w.sum()
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
                self.steps_ += 1
        net.eval()
        self.weights_ = [p.detach().cpu().numpy().astype(np.float32) for p in net.parameters()]
        return self

    def decision_function(self, X) -> np.ndarray:
        h = np.asarray(X, dtype=np.float32)
        weights = self.weights_
        for i in range(0, len(weights), 2):
            h = h @ weights[i].T + weights[i + 1]
            if i + 2 < len(weights):
                h = np.maximum(h, 0)
        return h.astype(np.float64)
