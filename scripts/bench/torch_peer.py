# PyTorch eager peer for `npm run bench graph`: trains the same shapes as the compiled modern models
# (Adam, random data) and prints {"steps_per_s": …}. Usage: torch_peer.py <model> <seconds>.
# Needs Debian's python3-torch; the bench reports the peer as skipped without it.
import json
import math
import os
import sys
import time

import torch
from torch import nn

torch.manual_seed(0)


class Block(nn.Module):
    def __init__(self, d, heads, ff, causal, t):
        super().__init__()
        self.ln1, self.ln2 = nn.LayerNorm(d), nn.LayerNorm(d)
        self.qkv, self.proj = nn.Linear(d, 3 * d), nn.Linear(d, d)
        self.ff1, self.ff2 = nn.Linear(d, ff), nn.Linear(ff, d)
        self.h, self.dh = heads, d // heads
        self.register_buffer("mask", torch.triu(torch.full((t, t), -1e9), 1) if causal else torch.zeros(t, t))

    def forward(self, x):
        b, t, d = x.shape
        q, k, v = self.qkv(self.ln1(x)).split(d, dim=2)
        q, k, v = (z.reshape(b, t, self.h, self.dh).transpose(1, 2) for z in (q, k, v))
        att = torch.softmax(q @ k.transpose(2, 3) / math.sqrt(self.dh) + self.mask, dim=-1)
        x = x + self.proj((att @ v).transpose(1, 2).reshape(b, t, d))
        return x + self.ff2(nn.functional.gelu(self.ff1(self.ln2(x))))


class Tokens(nn.Module):
    def __init__(self, vocab, d, t, layers, heads, ff, out, causal):
        super().__init__()
        self.emb, self.pos = nn.Embedding(vocab, d), nn.Parameter(torch.zeros(1, t, d))
        self.blocks = nn.Sequential(*[Block(d, heads, ff, causal, t) for _ in range(layers)])
        self.ln, self.head, self.causal = nn.LayerNorm(d), nn.Linear(d, out), causal

    def forward(self, x):
        h = self.ln(self.blocks(self.emb(x) + self.pos))
        return self.head(h) if self.causal else self.head(h.mean(1))


class Gru(nn.Module):
    def __init__(self):
        super().__init__()
        self.rnn, self.fc = nn.GRU(28, 64, batch_first=True), nn.Linear(64, 10)

    def forward(self, x):
        return self.fc(self.rnn(x)[1][0])


name, seconds = sys.argv[1], float(sys.argv[2])
if name == "token_classifier":
    model, batch, lr = Tokens(50, 32, 12, 1, 4, 64, 3, False), 8, 0.002
    x, y = torch.randint(0, 50, (batch, 12)), torch.randint(0, 3, (batch,))
elif name == "char_transformer":
    model, batch, lr = Tokens(86, 48, 32, 2, 4, 192, 86, True), 32, 0.003
    x, y = torch.randint(0, 86, (batch, 32)), torch.randint(0, 86, (batch, 32))
elif name == "mnist_gru":
    model, batch, lr = Gru(), 32, 0.005
    x, y = torch.rand(batch, 28, 28), torch.randint(0, 10, (batch,))
else:
    sys.exit(f"unknown model {name}")
opt = torch.optim.Adam(model.parameters(), lr=lr)
loss_fn = nn.CrossEntropyLoss()


def step():
    opt.zero_grad()
    z = model(x)
    loss = loss_fn(z.reshape(-1, z.shape[-1]), y.reshape(-1))
    loss.backward()
    opt.step()


def rate(threads):
    torch.set_num_threads(threads)
    for _ in range(5):
        step()
    n, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        step()
        n += 1
    return n / (time.perf_counter() - t0)


# PyTorch's best of 1 thread and every core it may use (its OpenMP threads collapse on a loaded machine)
best = max((rate(t), t) for t in sorted({1, len(os.sched_getaffinity(0))}))
print(json.dumps({"steps_per_s": best[0], "threads": best[1]}))
