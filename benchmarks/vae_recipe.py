"""The course's default VAE recipe against the pytorch/examples reference, side by side in one run.

    PYTHONPATH=$PWD python benchmarks/vae_recipe.py [--quick] [--threads 2]

Reference (pytorch/examples vae/main.py): an MLP VAE 784-400-20, batch 128, Adam 1e-3, 10 epochs, summed binary
cross-entropy on grey [0, 1] pixels plus KL, fed by a torchvision DataLoader (ToTensor). The course's recipe:
models.VAE("mlp", latent_dim=20, widths=COURSE_WIDTHS) — the same MLP with a 512-unit hidden layer — trained by
train.fit on in-memory tensors with a larger batch and learning rate for fewer epochs, then lower rates to settle
(COURSE_RECIPE). Both are scored the same way: the negative ELBO with one
z sample per image, in nats per image (sum over pixels, mean over the 10 000 test images), on grey pixels.
Target: the course's test loss is lower and its wall time at most a quarter of the reference's.
--quick trains each for one epoch on 6000 images (a smoke run; the figures mean nothing).
"""
import argparse
import time

import torch
import torch.nn.functional as F
from torch import nn
from torchvision import datasets, transforms

from course_lib import config, models, train
from course_lib.data import find_fashion_mnist, load_fashion_mnist

# (batch_size, lr, epochs) stages, each a train.fit call with a fresh Adam: fast at a high rate, then settle
COURSE_RECIPE = [(256, 3e-3, 5), (256, 1e-3, 2), (256, 3e-4, 1)]
COURSE_WIDTHS = (512,)


class ReferenceVAE(nn.Module):
    """pytorch/examples vae/main.py, unchanged apart from Fashion-MNIST."""

    def __init__(self):
        super().__init__()
        self.fc1, self.fc21, self.fc22 = nn.Linear(784, 400), nn.Linear(400, 20), nn.Linear(400, 20)
        self.fc3, self.fc4 = nn.Linear(20, 400), nn.Linear(400, 784)

    def forward(self, x):
        h = F.relu(self.fc1(x.view(-1, 784)))
        mu, logvar = self.fc21(h), self.fc22(h)
        z = mu + torch.randn_like(mu) * torch.exp(0.5 * logvar)
        return torch.sigmoid(self.fc4(F.relu(self.fc3(z)))), mu, logvar


def reference_loss(recon_x, mu, logvar, x):
    bce = F.binary_cross_entropy(recon_x, x.view(-1, 784), reduction="sum")
    return bce - 0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp())


def run_reference(epochs: int, n_train: int | None) -> tuple[float, float]:
    """Train and test the reference; returns (test loss in nats per image, wall seconds)."""
    start = time.perf_counter()
    root = find_fashion_mnist()  # a folder torchvision's FashionMNIST reads as it is
    train_set = datasets.FashionMNIST(root, train=True, download=False, transform=transforms.ToTensor())
    test_set = datasets.FashionMNIST(root, train=False, download=False, transform=transforms.ToTensor())
    if n_train is not None:
        train_set = torch.utils.data.Subset(train_set, range(n_train))
    train_loader = torch.utils.data.DataLoader(train_set, batch_size=128, shuffle=True)
    test_loader = torch.utils.data.DataLoader(test_set, batch_size=128, shuffle=False)
    torch.manual_seed(1)
    model = ReferenceVAE()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    for _ in range(epochs):
        model.train()
        for data, _ in train_loader:
            optimizer.zero_grad()
            loss = reference_loss(*model(data), data)
            loss.backward()
            optimizer.step()
    model.eval()
    total = 0.0
    with torch.no_grad():
        for data, _ in test_loader:
            total += reference_loss(*model(data), data).item()
    return total / len(test_set), time.perf_counter() - start


def run_course(recipe: list[tuple[int, float, int]], n_train: int | None) -> tuple[float, float]:
    """Train and test the course's recipe; returns (test loss in nats per image, wall seconds)."""
    start = time.perf_counter()
    train_images = load_fashion_mnist("train", n=n_train).images  # uint8; train.fit scales batches to [0, 1]
    test_images = load_fashion_mnist("test").images
    config.seed(1)
    model = models.VAE("mlp", latent_dim=20, widths=COURSE_WIDTHS)
    for batch_size, lr, epochs in recipe:
        train.fit(model, train_images, epochs=epochs, batch_size=batch_size, lr=lr, device="cpu", progress=False)
    loss = train.evaluate(model, test_images, device="cpu")
    return loss, time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="one epoch on 6000 images each (smoke run)")
    parser.add_argument("--threads", type=int, default=2, help="torch CPU threads (default 2, the target laptop)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    n_train = 6000 if args.quick else None
    ref_loss, ref_seconds = run_reference(1 if args.quick else 10, n_train)
    print(f"reference (MLP 784-400-20, DataLoader, batch 128, Adam 1e-3, {1 if args.quick else 10} epochs): "
          f"test loss {ref_loss:.2f} nats/image, {ref_seconds:.1f} s")
    recipe = [COURSE_RECIPE[0][:2] + (1,)] if args.quick else COURSE_RECIPE
    loss, seconds = run_course(recipe, n_train)
    stages = ", ".join(f"{e} epoch(s) at batch {b}, lr {lr:g}" for b, lr, e in recipe)
    print(f"course (models.VAE('mlp', 20, widths={COURSE_WIDTHS}), train.fit: {stages}): "
          f"test loss {loss:.2f} nats/image, {seconds:.1f} s")
    print(f"wall-time ratio course / reference: {seconds / ref_seconds:.3f} (target <= 0.25); "
          f"test loss difference course - reference: {loss - ref_loss:+.2f} nats/image (target < 0)")


if __name__ == "__main__":
    main()
