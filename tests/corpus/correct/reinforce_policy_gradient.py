"""REINFORCE on a two-armed bandit: log-probabilities from a Categorical, weighted by
normalised returns, one backward per episode batch."""

import torch
from torch import nn
from torch.distributions import Categorical

if __name__ == "__main__":
    torch.manual_seed(0)
    policy = nn.Sequential(nn.Linear(4, 16), nn.Tanh(), nn.Linear(16, 2))
    optimizer = torch.optim.Adam(policy.parameters(), lr=1e-2)
    context = torch.randn(64, 4)
    best_arm = (context[:, 0] > 0).long()
    for _episode in range(60):
        dist = Categorical(logits=policy(context))
        actions = dist.sample()
        rewards = (actions == best_arm).float()
        advantages = (rewards - rewards.mean()) / (rewards.std() + 1e-8)
        loss = -(dist.log_prob(actions) * advantages).mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    print(rewards.mean().item())
