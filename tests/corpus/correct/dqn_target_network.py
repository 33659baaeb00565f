"""A DQN update on a toy chain MDP: a target network refreshed with load_state_dict, the TD
target computed under no_grad, Huber loss on the chosen actions' values."""

import random

import torch
import torch.nn.functional as F
from torch import nn

N_STATES, N_ACTIONS, GAMMA = 6, 2, 0.9


def step_env(state, action):
    nxt = min(state + 1, N_STATES - 1) if action == 1 else max(state - 1, 0)
    return nxt, float(nxt == N_STATES - 1), nxt == N_STATES - 1


def one_hot(states):
    return F.one_hot(torch.as_tensor(states), N_STATES).float()


if __name__ == "__main__":
    torch.manual_seed(0)
    random.seed(0)
    policy_net = nn.Sequential(nn.Linear(N_STATES, 32), nn.ReLU(), nn.Linear(32, N_ACTIONS))
    target_net = nn.Sequential(nn.Linear(N_STATES, 32), nn.ReLU(), nn.Linear(32, N_ACTIONS))
    target_net.load_state_dict(policy_net.state_dict())
    optimizer = torch.optim.Adam(policy_net.parameters(), lr=1e-2)
    memory, state = [], 0
    for t in range(150):
        if random.random() < 0.3:
            action = random.randrange(N_ACTIONS)
        else:
            with torch.no_grad():
                action = policy_net(one_hot([state])).argmax(1).item()
        nxt, reward, done = step_env(state, action)
        memory.append((state, action, reward, nxt, done))
        state = 0 if done else nxt
        if len(memory) < 32:
            continue
        s, a, r, s2, d = zip(*random.sample(memory, 32), strict=True)
        q = policy_net(one_hot(s)).gather(1, torch.tensor(a).unsqueeze(1)).squeeze(1)
        with torch.no_grad():
            next_q = target_net(one_hot(s2)).max(1).values
            target = torch.tensor(r) + GAMMA * next_q * (1 - torch.tensor(d, dtype=torch.float))
        loss = F.smooth_l1_loss(q, target)
        optimizer.zero_grad()
        loss.backward()
        nn.utils.clip_grad_value_(policy_net.parameters(), 10)
        optimizer.step()
        if t % 25 == 0:
            target_net.load_state_dict(policy_net.state_dict())
    print(loss.item())
