"""Train, evaluate, then export: a TorchScript trace of the model in eval mode, and
quantization-aware training finished with convert(). Both run the model's forward with
gradients on, inside torch: neither is an evaluation that wastes a graph."""

import copy
import warnings

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader

import kata_fixtures as fixtures


def train(model, loader, optimizer, epochs):
    for _ in range(epochs):
        model.train()
        for x, y in loader:
            optimizer.zero_grad()
            F.cross_entropy(model(x), y).backward()
            optimizer.step()


def accuracy(model, x, y):
    model.eval()
    with torch.no_grad():
        return (model(x).argmax(1) == y).float().mean().item()


class QuantMLP(nn.Module):
    def __init__(self, quant):
        super().__init__()
        self.quant, self.dequant = quant.QuantStub(), quant.DeQuantStub()
        self.body = nn.Sequential(nn.Linear(64, 32), nn.ReLU(), nn.Linear(32, 10))

    def forward(self, x):
        return self.dequant(self.body(self.quant(x)))


if __name__ == "__main__":
    torch.manual_seed(0)
    data = fixtures.digits(flat=True)
    loader = DataLoader(data.train_set(), batch_size=128, shuffle=True)

    model = fixtures.MLP(64, 10, hidden=(32,), dropout=0.2)
    train(model, loader, torch.optim.Adam(model.parameters(), lr=1e-2), epochs=2)
    print(f"float accuracy {accuracy(model, data.x_val, data.y_val):.3f}")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # newer torch deprecates tracing
        traced = torch.jit.trace(model.eval(), data.x_val[:1])

    engines = torch.backends.quantized.supported_engines
    engine = next((e for e in ("fbgemm", "qnnpack", "x86") if e in engines), None)
    if engine is not None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # torch.ao.quantization is deprecated
            import torch.ao.quantization as quant

            torch.backends.quantized.engine = engine
            qat = QuantMLP(quant)
            qat.qconfig = quant.get_default_qat_qconfig(engine)
            quant.prepare_qat(qat.train(), inplace=True)
            train(qat, loader, torch.optim.SGD(qat.parameters(), lr=0.05, momentum=0.9), 2)
            int8 = quant.convert(copy.deepcopy(qat).eval(), inplace=False)
            print(f"int8 accuracy {accuracy(int8, data.x_val, data.y_val):.3f}")
