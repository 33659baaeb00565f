# expect: no-grad-training
"""A freeze() helper meant for the teacher is applied to the student as well."""

import torch
import torch.nn.functional as F

import kata_fixtures as fixtures


def freeze(model):
    for p in model.parameters():
        p.requires_grad = False
    return model


if __name__ == "__main__":
    torch.manual_seed(0)
    data = fixtures.digits(flat=True)
    teacher = freeze(fixtures.MLP(64, 10, hidden=(64,))).eval()
    student = freeze(fixtures.MLP(64, 10, hidden=(16,)))
    optimizer = torch.optim.SGD(student.parameters(), lr=0.1)
    for i in range(0, 256, 64):
        x = data.x_train[i : i + 64]
        with torch.no_grad():
            target = F.softmax(teacher(x), dim=1)
        loss = F.cross_entropy(student(x), target)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
