"""Knowledge distillation: a trained teacher in eval mode, queried under torch.no_grad()."""

import torch
import torch.nn.functional as F

import kata_fixtures as fixtures

T = 2.0


def fit(model, x, y, steps=60):
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    for _ in range(steps):
        opt.zero_grad()
        F.cross_entropy(model(x), y).backward()
        opt.step()


if __name__ == "__main__":
    torch.manual_seed(0)
    data = fixtures.digits(flat=True)
    teacher = fixtures.MLP(64, 10, hidden=(64,), dropout=0.2)
    teacher.train()
    fit(teacher, data.x_train, data.y_train)
    teacher.eval()

    student = fixtures.MLP(64, 10, hidden=(16,), dropout=0.1)
    optimizer = torch.optim.Adam(student.parameters(), lr=1e-2)
    student.train()
    for _epoch in range(3):
        for i in range(0, len(data.x_train), 128):
            x, y = data.x_train[i : i + 128], data.y_train[i : i + 128]
            with torch.no_grad():
                soft_targets = F.softmax(teacher(x) / T, dim=1)
            logits = student(x)
            kd = F.kl_div(F.log_softmax(logits / T, dim=1), soft_targets, reduction="batchmean")
            loss = 0.7 * kd * T * T + 0.3 * F.cross_entropy(logits, y)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()

    student.eval()
    with torch.no_grad():
        acc = (student(data.x_val).argmax(1) == data.y_val).float().mean()
    print(f"student accuracy {acc:.2%}")
