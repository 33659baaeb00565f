# expect: grad-accumulation
"""Distillation where zero_grad() is called on the teacher instead of the student."""

import torch
import torch.nn.functional as F

import kata_fixtures as fixtures

if __name__ == "__main__":
    torch.manual_seed(0)
    data = fixtures.digits(flat=True)
    teacher = fixtures.MLP(64, 10, hidden=(64,)).eval()
    student = fixtures.MLP(64, 10, hidden=(16,))
    optimizer = torch.optim.Adam(student.parameters(), lr=1e-3)
    for epoch in range(2):
        for i in range(0, 512, 64):
            x, y = data.x_train[i : i + 64], data.y_train[i : i + 64]
            with torch.no_grad():
                soft = F.softmax(teacher(x) / 2.0, dim=1)
            logits = student(x)
            loss = F.kl_div(F.log_softmax(logits / 2.0, dim=1), soft, reduction="batchmean")
            loss = loss + F.cross_entropy(logits, y)
            teacher.zero_grad()
            loss.backward()
            optimizer.step()
        print(epoch, loss.item())
