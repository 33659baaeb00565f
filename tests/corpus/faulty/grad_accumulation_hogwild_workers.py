# expect: grad-accumulation
# corpus: processes
"""pytorch/examples' mnist_hogwild, shrunk: workers started with torch.multiprocessing train one
shared model, and zero_grad went missing in the worker's loop."""

import torch
import torch.multiprocessing as mp
import torch.nn.functional as F
from torch import nn


class Net(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.fc1 = nn.Linear(16, 32)
        self.fc2 = nn.Linear(32, 4)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.log_softmax(self.fc2(F.relu(self.fc1(x))), dim=1)


def train(rank: int, model: nn.Module) -> None:
    torch.manual_seed(1 + rank)
    data = torch.randn(64, 16)
    target = torch.randint(0, 4, (64,))
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.5)
    model.train()
    for _epoch in range(2):
        for i in range(0, 64, 16):
            output = model(data[i : i + 16])
            loss = F.nll_loss(output, target[i : i + 16])
            loss.backward()
            optimizer.step()


if __name__ == "__main__":
    model = Net()
    model.share_memory()  # gradients are allocated lazily, so they are not shared here
    processes = []
    for rank in range(2):
        p = mp.get_context("spawn").Process(target=train, args=(rank, model))
        p.start()
        processes.append(p)
    for p in processes:
        p.join()
