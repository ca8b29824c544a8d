import math

import pytest
import torch

from course_lib import train
from course_lib.data import ImageData
from course_lib.models import VAE, Autoencoder


def shapes(n, seed=0):
    """Learnable uint8 images (n, 1, 28, 28): one bright rectangle each, at a random place and size."""
    g = torch.Generator().manual_seed(seed)
    images = torch.zeros(n, 1, 28, 28, dtype=torch.uint8)
    for i in range(n):
        top, left = torch.randint(0, 14, (2,), generator=g).tolist()
        h, w = torch.randint(6, 14, (2,), generator=g).tolist()
        images[i, 0, top:top + h, left:left + w] = 255
    return images


TRAIN, TEST = shapes(200), shapes(50, seed=1)


def small(cls=Autoencoder, kind="conv", **kwargs):
    torch.manual_seed(0)
    return cls(kind, latent_dim=2, widths=(4, 8) if kind == "conv" else (32,), **kwargs)


def test_fit_reduces_the_loss_and_keeps_a_full_history():
    model = small(Autoencoder, "mlp")
    before = train.evaluate(model, TEST, device="cpu")
    history = train.fit(model, TRAIN, TEST, epochs=4, batch_size=32, lr=3e-3, device="cpu", progress=False)
    after = train.evaluate(model, TEST, device="cpu")
    assert after < 0.8 * before
    assert len(history.train_loss) == len(history.test_loss) == 4
    assert len(history.step_loss) == 4 * math.ceil(200 / 32)
    assert history.train_loss[-1] < history.train_loss[0]
    assert history.test_loss[-1] == pytest.approx(after, rel=1e-5)
    assert not history.interrupted and history.device == "cpu"
    assert history.seconds > 0 and history.images_per_second > 0
    assert history.loss_name == Autoencoder.loss_name and "nats per image" in history.loss_name


def test_epoch_loss_is_the_image_weighted_mean_of_the_steps():
    history = train.fit(small(), TRAIN, epochs=1, batch_size=64, device="cpu", progress=False)
    sizes = [64, 64, 64, 8]
    assert history.test_loss == []
    expected = sum(s * l for s, l in zip(sizes, history.step_loss)) / 200
    assert history.train_loss[0] == pytest.approx(expected, rel=1e-6)


def test_fit_is_deterministic_on_cpu_for_a_seed():
    runs = []
    for _ in range(2):
        model = small(VAE)
        history = train.fit(model, TRAIN[:100], TEST, epochs=2, batch_size=50, device="cpu", seed=7, progress=False)
        runs.append((history, model.state_dict()))
    (h1, w1), (h2, w2) = runs
    assert h1.step_loss == h2.step_loss and h1.test_loss == h2.test_loss
    assert all(torch.equal(w1[k], w2[k]) for k in w1)
    other = train.fit(small(VAE), TRAIN[:100], epochs=2, batch_size=50, device="cpu", seed=8, progress=False)
    assert other.step_loss != h1.step_loss


def test_uint8_float_and_imagedata_inputs_train_the_same():
    histories = []
    for images in (TRAIN, TRAIN.float() / 255, ImageData(TRAIN, torch.zeros(200, dtype=torch.long), ("x",))):
        histories.append(train.fit(small(), images, epochs=1, batch_size=64, device="cpu", progress=False))
    assert histories[0].step_loss == histories[1].step_loss == histories[2].step_loss


def test_evaluate_weights_uneven_batches_by_size():
    model = small(Autoencoder, "mlp")
    x = TEST.float() / 255
    with torch.no_grad():
        whole = model.loss(x).item()
    assert train.evaluate(model, x, batch_size=7, device="cpu") == pytest.approx(whole, rel=1e-5)
    assert not model.training


def test_ctrl_c_keeps_the_weights_and_returns_the_history(capsys):
    model = small()
    start = {k: v.clone() for k, v in model.state_dict().items()}
    real_loss, calls = model.loss, []

    def loss_then_interrupt(x):
        calls.append(1)
        if len(calls) == 7:  # 4 steps of epoch 1, 1 test-loss call, 1 step of epoch 2, then Ctrl-C
            raise KeyboardInterrupt
        return real_loss(x)

    model.loss = loss_then_interrupt
    history = train.fit(model, TRAIN, TEST, epochs=3, batch_size=64, device="cpu", progress=False)
    assert history.interrupted
    assert len(history.train_loss) == len(history.test_loss) == 1
    assert len(history.step_loss) == 5
    assert any(not torch.equal(start[k], v) for k, v in model.state_dict().items())  # trained steps are kept
    assert not model.training
    out = capsys.readouterr().out
    assert out.count("\n") == 1 and "interrupted" in out and "1 of 3 epochs" in out


def snapshots_of_each_loss(model):
    """Wrap model.loss so that it records the weights every loss was computed with."""
    real_loss, weights = model.loss, []

    def recording_loss(x):
        weights.append({k: v.clone() for k, v in model.state_dict().items()})
        return real_loss(x)

    model.loss = recording_loss
    return weights


def test_a_diverging_fit_stops_at_the_first_non_finite_loss_and_keeps_the_last_finite_weights():
    model = small(VAE)  # lr=5.0 makes exp(logvar) overflow: the third step's loss is nan
    weights = snapshots_of_each_loss(model)
    with pytest.warns(train.DivergenceWarning) as caught:
        history = train.fit(model, TRAIN, TEST, epochs=3, batch_size=32, lr=5.0, device="cpu", progress=False)
    assert len(caught) == 1
    message = str(caught[0].message)
    assert "epoch 1 of 3, step 3: the loss became nan" in message and "smaller lr, e.g. lr=0.5" in message
    assert history.diverged and not history.interrupted
    assert len(history.step_loss) == 2 and all(math.isfinite(v) for v in history.step_loss)
    assert history.train_loss == [] and history.test_loss == []  # no epoch was completed
    assert len(weights) == 3  # it stopped at the third loss, without another step
    state = model.state_dict()
    assert all(torch.isfinite(v).all() for v in state.values())
    assert all(torch.equal(state[k], weights[1][k]) for k in state)  # the weights of the last finite loss
    assert not model.training


def test_divergence_after_whole_epochs_keeps_their_history(capsys):
    model = small(Autoencoder, "mlp")
    real_loss, calls = model.loss, []

    def nan_on_the_ninth_call(x):
        calls.append(1)
        loss = real_loss(x)
        return loss * float("inf") if len(calls) == 9 else loss  # 4 steps, 1 test loss, 3 steps, then inf

    model.loss = nan_on_the_ninth_call
    weights = snapshots_of_each_loss(model)
    with pytest.warns(train.DivergenceWarning, match="epoch 2 of 3, step 4: the loss became inf"):
        history = train.fit(model, TRAIN, TEST, epochs=3, batch_size=64, device="cpu", progress=False)
    assert history.diverged and len(history.train_loss) == len(history.test_loss) == 1
    assert len(history.step_loss) == 4 + 3 and all(math.isfinite(v) for v in history.step_loss)
    state = model.state_dict()
    assert all(torch.equal(state[k], weights[7][k]) for k in state)  # the 8th call: the 7th step's weights
    assert capsys.readouterr().out == ""  # one warning, nothing printed besides


def test_ctrl_c_from_the_epoch_callback():
    seen = []

    def callback(epoch, history):
        seen.append((epoch, len(history.train_loss)))
        if epoch == 2:
            raise KeyboardInterrupt

    history = train.fit(small(), TRAIN, epochs=5, batch_size=100, device="cpu", progress=False,
                        on_epoch_end=callback)
    assert seen == [(1, 1), (2, 2)] and history.interrupted and len(history.train_loss) == 2


def test_progress_bar_shows_the_epoch_and_the_losses(capsys):
    train.fit(small(), TRAIN[:20], TEST[:10], epochs=2, batch_size=8, device="cpu", progress=True)
    bar = capsys.readouterr().err.replace("\r", "\n")
    assert "epoch 1/2" in bar and "epoch 2/2" in bar and "6/6" in bar  # 2 epochs of 3 steps
    assert "train=" in bar and "test=" in bar
    train.fit(small(), TRAIN[:20], epochs=1, batch_size=8, device="cpu", progress=False)
    assert capsys.readouterr().err == ""


@pytest.mark.parametrize("kwargs, error, message", [
    (dict(epochs=-1), ValueError, "epochs"),
    (dict(batch_size=0), ValueError, "batch_size"),
    (dict(lr=0.0), ValueError, "lr"),
    (dict(train_images=TRAIN.float()), ValueError, "train_images must hold values in \\[0, 1\\]"),
    (dict(train_images=TRAIN[0]), ValueError, "train_images must have shape \\(n, 1, 28, 28\\)"),
    (dict(train_images=TRAIN[:0]), ValueError, "n >= 1"),
    (dict(train_images=TRAIN.long()), ValueError, "dtype torch.int64"),
    (dict(lr=float("nan")), ValueError, "lr=nan"),
    (dict(epochs=True), ValueError, "epochs=True"),
    (dict(train_images=TRAIN.tolist()), TypeError, "train_images"),
    (dict(test_images=TEST.float() * 2), ValueError, "test_images"),
    (dict(device="nonsense"), ValueError, "device"),
])
def test_fit_refuses_bad_arguments(kwargs, error, message):
    arguments = dict(train_images=TRAIN, epochs=1, device="cpu", progress=False) | kwargs
    with pytest.raises(error, match=message):
        train.fit(small(), **arguments)


def test_fit_and_evaluate_refuse_images_of_the_wrong_shape_for_the_model_before_training():
    model = small()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    with pytest.raises(ValueError, match="train_images must have shape \\(n, 1, 28, 28\\)"):
        train.fit(model, torch.zeros(10, 3, 32, 32, dtype=torch.uint8), epochs=1, device="cpu", progress=False)
    with pytest.raises(ValueError, match="test_images .* got \\(10, 28, 28\\).*unsqueeze\\(1\\)"):
        train.fit(model, TRAIN, torch.zeros(10, 28, 28), epochs=1, device="cpu", progress=False)
    assert all(torch.equal(v, before[k]) for k, v in model.state_dict().items())  # not a step was taken
    with pytest.raises(ValueError, match="images must hold values in \\[0, 1\\]"):
        train.evaluate(model, TEST.float(), device="cpu")


# ---- checkpoints ----------------------------------------------------------------------------------------------

def trained(cls=VAE):
    model = small(cls, beta=0.5) if cls is VAE else small(cls)
    history = train.fit(model, TRAIN, TEST, epochs=1, batch_size=100, device="cpu", progress=False)
    return model, history


def test_checkpoint_round_trip(tmp_path):
    model, history = trained()
    path = train.save_checkpoint(model, tmp_path / "sub" / "vae.pt", history=history, extra={"note": "hi", "n": 1})
    loaded = train.load_checkpoint(path)
    assert type(loaded.model) is VAE and loaded.model.config == model.config
    assert all(torch.equal(v, loaded.model.state_dict()[k]) for k, v in model.state_dict().items())
    assert loaded.history == history and loaded.extra == {"note": "hi", "n": 1}
    x = TEST[:5].float() / 255
    assert torch.equal(model.encode(x), loaded.model.encode(x))
    into = small(VAE, beta=0.5)
    assert train.load_checkpoint(path, model=into).model is into
    assert all(torch.equal(v, into.state_dict()[k]) for k, v in model.state_dict().items())
    assert train.load_checkpoint(path).history is not None
    assert list(tmp_path.joinpath("sub").iterdir()) == [path]  # no temporary files left behind


def test_checkpoint_without_history(tmp_path):
    model, _ = trained(Autoencoder)
    loaded = train.load_checkpoint(train.save_checkpoint(model, tmp_path / "ae.pt"))
    assert loaded.history is None and loaded.extra == {} and type(loaded.model) is Autoencoder


def test_loading_into_a_different_architecture_says_what_differs(tmp_path):
    model, _ = trained()
    path = train.save_checkpoint(model, tmp_path / "vae.pt")
    with pytest.raises(ValueError, match="latent_dim: 2 in the file, 3 in your model"):
        train.load_checkpoint(path, model=VAE("conv", latent_dim=3, widths=(4, 8), beta=0.5))
    with pytest.raises(ValueError, match="class: VAE in the file, Autoencoder given"):
        train.load_checkpoint(path, model=small(Autoencoder))


@pytest.mark.parametrize("damage, message", [
    (lambda p: p.write_bytes(p.read_bytes()[: len(p.read_bytes()) // 2]), "could not be read"),
    (lambda p: p.write_text("hello"), "could not be read"),
    (lambda p: torch.save({"encoder.weight": torch.zeros(2)}, p), "not a course_lib checkpoint"),
    (lambda p: torch.save([1, 2], p), "not a course_lib checkpoint"),
    (lambda p: torch.save({"a": ImageData}, p), "could not be read"),  # an arbitrary object: unsafe to load
])
def test_damaged_or_foreign_files_raise_a_clear_error(tmp_path, damage, message):
    model, _ = trained(Autoencoder)
    path = train.save_checkpoint(model, tmp_path / "ae.pt")
    damage(path)
    with pytest.raises(ValueError, match=message):
        train.load_checkpoint(path)


def test_edited_checkpoints_raise_a_clear_error(tmp_path):
    model, _ = trained(Autoencoder)
    path = train.save_checkpoint(model, tmp_path / "ae.pt")
    content = torch.load(path, weights_only=True)
    torch.save(content | {"version": 99}, path)
    with pytest.raises(ValueError, match="version 99"):
        train.load_checkpoint(path)
    torch.save(content | {"config": content["config"] | {"latent_dim": 5}}, path)
    with pytest.raises(ValueError, match="weights do not fit"):
        train.load_checkpoint(path)
    torch.save(content | {"class": "GAN"}, path)
    with pytest.raises(ValueError, match="cannot rebuild"):
        train.load_checkpoint(path)


def test_checkpoint_errors_for_missing_files_and_unsafe_extras(tmp_path):
    with pytest.raises(FileNotFoundError, match="No checkpoint"):
        train.load_checkpoint(tmp_path / "nope.pt")
    model, _ = trained(Autoencoder)
    with pytest.raises(ValueError, match="extra\\['f'\\] is a builtin"):
        train.save_checkpoint(model, tmp_path / "x.pt", extra={"f": print})
    with pytest.raises(TypeError, match="config"):
        train.save_checkpoint(torch.nn.Linear(2, 2), tmp_path / "x.pt")
    assert not list(tmp_path.iterdir())


def test_transform_changes_every_training_batch_and_no_test_batch():
    seen = []

    def record(batch):
        seen.append(batch.clone())
        return (batch > 0.5).float()

    model = small(VAE)
    history = train.fit(model, TRAIN[:40], TEST[:8], epochs=2, batch_size=20, device="cpu", progress=False,
                        transform=record)
    assert len(seen) == 4 and all(b.shape == (20, 1, 28, 28) and b.dtype == torch.float32 for b in seen)
    assert len(history.test_loss) == 2
    assert not torch.equal(seen[0], seen[2])  # the second epoch shuffles the images anew


class BetaRecorder(VAE):
    """A VAE that records the KL weight every loss call used (None: the model's own beta)."""

    def loss(self, x, beta=None):
        self.used.append(beta)
        return super().loss(x, beta)


def test_kl_warmup_raises_beta_linearly_from_zero_over_the_first_steps():
    model = small(BetaRecorder, "mlp", beta=2.0)
    model.used = []
    history = train.fit(model, TRAIN, TEST[:10], epochs=3, batch_size=50, kl_warmup=6, device="cpu", progress=False)
    training = [b for b in model.used if b is not None]
    assert training == pytest.approx([0.0, 2 / 6, 4 / 6, 1.0, 8 / 6, 10 / 6])  # across the epoch boundary
    assert model.used[:4] == pytest.approx([0.0, 2 / 6, 4 / 6, 1.0])  # epoch 1: 4 steps, all warming up
    assert model.used[4] is None  # its test loss uses the model's beta
    assert len(model.used) == 3 * 4 + 3 and model.beta == 2.0
    assert history.test_loss[-1] == pytest.approx(train.evaluate(model, TEST[:10], device="cpu"), rel=0.05)


def test_without_warmup_every_step_uses_the_models_beta():
    model = small(BetaRecorder, "mlp")
    model.used = []
    train.fit(model, TRAIN, epochs=1, batch_size=50, device="cpu", progress=False)
    assert model.used == [None] * 4


@pytest.mark.parametrize("model, kl_warmup, error, message", [
    (lambda: small(VAE), -1, ValueError, "kl_warmup=-1 must be a whole number, at least 0"),
    (lambda: small(VAE), 2.5, ValueError, "kl_warmup=2.5"),
    (lambda: small(VAE), True, ValueError, "kl_warmup=True"),
    (lambda: small(Autoencoder), 10, TypeError, "kl_warmup=10 needs a model with a KL weight"),
])
def test_fit_refuses_a_bad_warmup(model, kl_warmup, error, message):
    with pytest.raises(error, match=message):
        train.fit(model(), TRAIN, epochs=1, kl_warmup=kl_warmup, device="cpu", progress=False)
