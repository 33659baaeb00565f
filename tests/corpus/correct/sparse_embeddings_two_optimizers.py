"""A matrix-factorisation recommender: sparse embeddings trained by SparseAdam, the dense layer
by Adam, both cleared and stepped every batch."""

import torch
import torch.nn.functional as F
from torch import nn


class Recommender(nn.Module):
    def __init__(self, users=50, items=40, dim=8):
        super().__init__()
        self.users = nn.Embedding(users, dim, sparse=True)
        self.items = nn.Embedding(items, dim, sparse=True)
        self.score = nn.Linear(2 * dim, 1)

    def forward(self, user, item):
        return self.score(torch.cat([self.users(user), self.items(item)], dim=1)).squeeze(1)


if __name__ == "__main__":
    torch.manual_seed(0)
    ratings = torch.rand(50, 40)
    model = Recommender()
    sparse_opt = torch.optim.SparseAdam(
        [*model.users.parameters(), *model.items.parameters()], lr=1e-2
    )
    dense_opt = torch.optim.Adam(model.score.parameters(), lr=1e-2)
    for _step in range(40):
        user, item = torch.randint(0, 50, (64,)), torch.randint(0, 40, (64,))
        sparse_opt.zero_grad()
        dense_opt.zero_grad()
        loss = F.mse_loss(model(user, item), ratings[user, item])
        loss.backward()
        sparse_opt.step()
        dense_opt.step()
    print(loss.item())
