"""Boss: digits, MLP, Adam with a step decay. Two faults; the tests pass only with both fixed."""

import torch

TARGET_ACCURACY = 0.9


class _Recording(torch.optim.SGD):
    """SGD with lr 0 that records the gradient each step() sees (the weights stay put)."""

    def __init__(self, params):
        super().__init__(params, lr=0.0)
        self.seen = []

    def step(self, closure=None):
        grad = self.param_groups[0]["params"][0].grad
        self.seen.append(None if grad is None else grad.detach().clone())
        return super().step(closure)


def test_each_step_uses_the_current_batchs_gradient_only(kata):
    train = kata.load("train.py")
    torch.manual_seed(kata.seed)
    model = torch.nn.Linear(64, 10)
    optimizer = _Recording(model.parameters())
    batches = [(torch.rand(8, 64), torch.randint(0, 10, (8,))) for _ in range(2)]
    for x, y in batches:
        train.train_step(model, optimizer, x, y)
    x, y = batches[-1]
    expected = torch.autograd.grad(torch.nn.functional.cross_entropy(model(x), y), model.weight)[0]
    seen = optimizer.seen[-1]
    gap = float("inf") if seen is None else (seen - expected).abs().max().item()
    assert gap < 1e-6, (
        f"At the second call of train_step, optimizer.step() saw a weight gradient that differs "
        f"from the second batch's own gradient by {gap:.3g}"
        f"{' (it saw no gradient at all)' if seen is None else ''}: each step must use the "
        f"current batch's gradient, and only it."
    )


def test_the_learning_rate_halves_every_two_epochs(kata):
    train = kata.load("train.py")
    result = train.train(seed=kata.seed)
    expected = [train.LR * 0.5 ** (epoch // train.HALVE_EVERY) for epoch in range(train.EPOCHS)]
    got = result["lr"]
    assert all(abs(a - b) < 1e-12 for a, b in zip(got, expected, strict=True)), (
        f"The learning rate at the start of each epoch was {', '.join(f'{v:.2e}' for v in got)}; "
        f"the schedule says {', '.join(f'{v:.2e}' for v in expected)}."
    )


def test_the_model_learns_the_digits(kata):
    result = kata.load("train.py").train(seed=kata.seed)
    accuracy = result["val_accuracy"][-1]
    assert accuracy >= TARGET_ACCURACY, (
        f"Validation accuracy after training is {accuracy:.1%} (per epoch: "
        f"{', '.join(f'{a:.0%}' for a in result['val_accuracy'])}); target {TARGET_ACCURACY:.0%}."
    )
