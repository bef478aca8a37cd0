"""A small regression script with several training pitfalls, for trying nnlint.

Run ``nnlint examples/`` from the repository root: every pitfall below is reported.
"""

import argparse

import torch
import torch.nn as nn
import torch.nn.functional as F
from sklearn.datasets import fetch_california_housing
from torch.utils.data import DataLoader, TensorDataset

parser = argparse.ArgumentParser()
parser.add_argument("--batch-size", type=int, default=1)
parser.add_argument("--keep-prob", type=float, default=0.9)  # copied from a TF1 tutorial
args = parser.parse_args()


class PriceModel(nn.Module):
    def __init__(self, n_features=8, hidden=64, keep_prob=args.keep_prob):
        super().__init__()
        self.fc1 = nn.Linear(n_features, hidden, bias=False)
        self.bn1 = nn.BatchNorm1d(hidden)
        self.fc2 = nn.Linear(hidden, hidden, bias=False)
        self.drop = nn.Dropout(keep_prob)
        self.out = nn.Linear(hidden, 1)
        nn.init.normal_(self.fc2.weight, 0.0, 1.0)

    def forward(self, x):
        x = F.relu(self.bn1(self.fc1(x)))
        x = self.drop(F.relu(self.fc2(x)))
        return F.relu(self.out(x))


def softmax_weights(scores):
    e = torch.exp(scores)
    return e / e.sum()


def main():
    housing = fetch_california_housing()
    x = torch.tensor(housing.data, dtype=torch.float32)
    y = torch.tensor(housing.target, dtype=torch.float32)
    loader = DataLoader(TensorDataset(x, y), batch_size=args.batch_size, shuffle=True)
    model = PriceModel()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    criterion = nn.MSELoss()
    for epoch in range(10):
        for features, target in loader:
            optimizer.zero_grad()
            loss = criterion(model(features).squeeze(1), target)
            loss.backward()
            optimizer.step()


if __name__ == "__main__":
    main()
