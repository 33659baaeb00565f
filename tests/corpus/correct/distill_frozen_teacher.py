"""Distillation with a teacher frozen by requires_grad_(False): no torch.no_grad() needed,
the teacher's forward records nothing because none of its inputs or weights need grad."""

import torch
from torch import nn

import kata_fixtures as fixtures


class Distiller(nn.Module):
    def __init__(self, teacher: nn.Module, student: nn.Module, alpha: float = 0.5) -> None:
        super().__init__()
        self.teacher = teacher.eval().requires_grad_(False)
        self.student = student
        self.alpha = alpha
        self.ce = nn.CrossEntropyLoss()
        self.kl = nn.KLDivLoss(reduction="batchmean", log_target=True)

    def train(self, mode: bool = True):
        super().train(mode)
        self.teacher.eval()  # the teacher never leaves eval mode
        return self

    def forward(self, x, y):
        t_logp = self.teacher(x).log_softmax(-1)
        s_logits = self.student(x)
        return self.alpha * self.ce(s_logits, y) + (1 - self.alpha) * self.kl(
            s_logits.log_softmax(-1), t_logp
        )


if __name__ == "__main__":
    torch.manual_seed(0)
    data = fixtures.tiny_images(n=256)
    teacher = fixtures.SmallCNN(in_channels=3, classes=4, width=8)
    student = fixtures.SmallCNN(in_channels=3, classes=4, width=4)
    distiller = Distiller(teacher, student)
    optimizer = torch.optim.SGD(distiller.student.parameters(), lr=0.05, momentum=0.9)
    distiller.train()
    for epoch in range(3):
        perm = torch.randperm(len(data.x_train))
        for i in range(0, len(perm), 32):
            idx = perm[i : i + 32]
            loss = distiller(data.x_train[idx], data.y_train[idx])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        print(epoch, loss.item())
