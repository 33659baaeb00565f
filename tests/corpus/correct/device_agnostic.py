# corpus: accelerator
"""Device-agnostic training: the model and every batch on the chosen device, a hidden state
created on the input's device, metrics brought back to the host."""

import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

device = torch.device("cuda" if torch.cuda.is_available() else "cpu")


class SequenceClassifier(nn.Module):
    def __init__(self):
        super().__init__()
        self.gru = nn.GRU(3, 16, batch_first=True)
        self.head = nn.Linear(16, 2)

    def forward(self, x):
        h0 = torch.zeros(1, x.size(0), 16, device=x.device)
        _, h = self.gru(x, h0)
        return self.head(h[-1])


if __name__ == "__main__":
    torch.manual_seed(0)
    x = torch.randn(256, 6, 3)
    y = (x[:, :, 0].sum(1) > 0).long()
    loader = DataLoader(TensorDataset(x, y), batch_size=32, shuffle=True)
    model = SequenceClassifier().to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    criterion = nn.CrossEntropyLoss()
    for epoch in range(3):
        model.train()
        for xb, yb in loader:
            xb, yb = xb.to(device), yb.to(device)
            optimizer.zero_grad()
            loss = criterion(model(xb), yb)
            loss.backward()
            optimizer.step()
        model.eval()
        with torch.no_grad():
            preds = model(x.to(device)).argmax(1).cpu().numpy()
        print(epoch, loss.item(), (preds == y.numpy()).mean())
