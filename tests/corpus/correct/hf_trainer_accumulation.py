"""An HF-style Trainer: gradient accumulation over k batches, warm-up then linear decay."""

from dataclasses import dataclass

import torch
from torch import nn
from torch.utils.data import DataLoader

import kata_fixtures as fixtures


@dataclass
class TrainingArguments:
    learning_rate: float = 3e-3
    num_train_epochs: int = 3
    per_device_train_batch_size: int = 16
    gradient_accumulation_steps: int = 4
    warmup_ratio: float = 0.1
    max_grad_norm: float = 1.0


def get_linear_schedule_with_warmup(optimizer, num_warmup_steps, num_training_steps):
    def lr_lambda(current_step: int) -> float:
        if current_step < num_warmup_steps:
            return float(current_step) / float(max(1, num_warmup_steps))
        return max(
            0.0,
            float(num_training_steps - current_step)
            / float(max(1, num_training_steps - num_warmup_steps)),
        )

    return torch.optim.lr_scheduler.LambdaLR(optimizer, lr_lambda)


class Trainer:
    def __init__(self, model, args, train_dataset, eval_dataset):
        self.model = model
        self.args = args
        self.train_dataset = train_dataset
        self.eval_dataset = eval_dataset
        self.loss_fn = nn.CrossEntropyLoss()

    def compute_loss(self, model, inputs):
        x, labels = inputs
        return self.loss_fn(model(x), labels)

    def train(self):
        args = self.args
        loader = DataLoader(
            self.train_dataset, batch_size=args.per_device_train_batch_size, shuffle=True
        )
        updates_per_epoch = len(loader) // args.gradient_accumulation_steps
        total = updates_per_epoch * args.num_train_epochs
        optimizer = torch.optim.AdamW(self.model.parameters(), lr=args.learning_rate)
        scheduler = get_linear_schedule_with_warmup(
            optimizer, int(args.warmup_ratio * total), total
        )
        self.model.train()
        global_step = 0
        for _epoch in range(args.num_train_epochs):
            for step, inputs in enumerate(loader):
                loss = self.compute_loss(self.model, inputs) / args.gradient_accumulation_steps
                loss.backward()
                if (step + 1) % args.gradient_accumulation_steps == 0:
                    nn.utils.clip_grad_norm_(self.model.parameters(), args.max_grad_norm)
                    optimizer.step()
                    scheduler.step()
                    optimizer.zero_grad()
                    global_step += 1
            # the leftover partial accumulation of the epoch is dropped
            optimizer.zero_grad()
        return global_step

    def evaluate(self):
        self.model.eval()
        loader = DataLoader(self.eval_dataset, batch_size=128)
        with torch.no_grad():
            losses = [self.compute_loss(self.model, batch).item() for batch in loader]
        self.model.train()
        return {"eval_loss": sum(losses) / len(losses)}


if __name__ == "__main__":
    torch.manual_seed(0)
    data = fixtures.digits(flat=True)
    model = fixtures.MLP(64, 10, hidden=(32,), dropout=0.1)
    trainer = Trainer(model, TrainingArguments(), data.train_set(), data.val_set())
    steps = trainer.train()
    print(steps, trainer.evaluate())
