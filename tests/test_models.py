import math

import pytest
import torch
import torch.nn.functional as F

from course_lib import models
from course_lib.models import VAE, Autoencoder, gaussian_kl, reparameterize

SMALL = {"conv": (4, 8), "mlp": (16,)}


def make(cls, kind="conv", image_shape=(1, 28, 28), latent_dim=2, **kwargs):
    torch.manual_seed(0)
    return cls(kind, latent_dim=latent_dim, widths=SMALL[kind], image_shape=image_shape, **kwargs)


@pytest.mark.parametrize("cls", [Autoencoder, VAE])
@pytest.mark.parametrize("kind", ["conv", "mlp"])
@pytest.mark.parametrize("image_shape", [(1, 28, 28), (3, 32, 32), (3, 64, 64)])
def test_shapes_and_ranges(cls, kind, image_shape):
    model = make(cls, kind, image_shape, latent_dim=3)
    x = torch.rand(5, *image_shape)
    z = model.encode(x)
    assert z.shape == (5, 3)
    images = model.decode(z)
    assert images.shape == (5, *image_shape)
    assert images.min() >= 0 and images.max() <= 1
    assert model.decode_logits(z).shape == (5, *image_shape)
    assert model(x).shape == (5, *image_shape)
    loss = model.loss(x)
    assert loss.ndim == 0 and loss.item() > 0


def test_book_encoder_pads_28_to_32():
    model = Autoencoder("conv", latent_dim=2, widths=(32, 64, 128))
    assert model.encoder.pad == (2, 2, 2, 2)
    assert model.encoder.linear.in_features == 128 * 4 * 4  # 32 -> 16 -> 8 -> 4
    assert model.decoder.grid == (128, 4, 4)


def test_default_widths_depend_on_kind():
    assert Autoencoder().widths == (32, 64, 128)
    assert VAE("mlp").widths == (512, 256)


def test_config_rebuilds_the_same_architecture():
    model = make(VAE, "conv", latent_dim=4, beta=0.5)
    assert model.config == dict(kind="conv", latent_dim=4, widths=(4, 8), image_shape=(1, 28, 28), beta=0.5,
                                free_bits=0.0)
    twin = VAE(**model.config)
    assert {k: v.shape for k, v in twin.state_dict().items()} == {k: v.shape for k, v in model.state_dict().items()}


def test_parameter_count_is_reported():
    model = Autoencoder("mlp", latent_dim=2, widths=(10,), image_shape=(1, 2, 2))
    # encoder 4->10->2, decoder 2->10->4
    assert model.num_parameters() == (4 * 10 + 10) + (10 * 2 + 2) + (2 * 10 + 10) + (10 * 4 + 4)
    assert f"parameters={model.num_parameters():,}" in repr(model)


@pytest.mark.parametrize("bad, message", [
    (torch.rand(1, 28, 28), "unsqueeze\\(0\\)"),
    (torch.rand(7, 28, 28), "unsqueeze\\(1\\)"),
    (torch.rand(7, 784), "view\\(-1, 1, 28, 28\\)"),
    (torch.rand(7, 28, 28, 1), "permute"),
    (torch.rand(7, 3, 28, 28), "\\(n, 1, 28, 28\\) with n >= 1; got \\(7, 3, 28, 28\\)"),
    (torch.rand(0, 1, 28, 28), "n >= 1; got \\(0, 1, 28, 28\\)"),
    (torch.randint(0, 256, (7, 1, 28, 28), dtype=torch.uint8), "float\\(\\) / 255"),
    (torch.ones(7, 1, 28, 28, dtype=torch.long), "dtype"),
])
@pytest.mark.parametrize("method", ["encode", "loss", "forward"])
def test_badly_shaped_or_typed_images_are_refused_with_a_clear_message(bad, message, method):
    for cls in (Autoencoder, VAE):
        with pytest.raises(ValueError, match=message):
            getattr(make(cls), method)(bad)


@pytest.mark.parametrize("bad, message", [
    (torch.rand(7, 1, 28, 28) * 255, "values in \\[0, 1\\]; got values from"),
    (torch.rand(7, 1, 28, 28) - 0.5, "values in \\[0, 1\\]"),
    (torch.full((7, 1, 28, 28), float("nan")), "NaN"),
])
def test_images_out_of_range_are_refused_where_data_enter_a_model(bad, message):
    for cls in (Autoencoder, VAE):
        for method in ("encode", "forward"):
            with pytest.raises(ValueError, match=message):
                getattr(make(cls), method)(bad)
    with pytest.raises(ValueError, match=message):
        make(VAE).encode_distribution(bad)
    with pytest.raises(ValueError, match=message):
        models.iwae_log_likelihood(make(VAE), bad, k=2)


def test_the_training_path_reads_no_values():
    """loss and loss_terms run on every batch; fit and evaluate check the data once, so these do not."""
    x = torch.rand(2, 1, 28, 28) * 2
    assert torch.isfinite(make(Autoencoder).loss(x)) and torch.isfinite(make(VAE).loss_terms(x)["loss"])
    assert not hasattr(make(Autoencoder), "check_values")


def test_a_non_tensor_is_refused():
    with pytest.raises(TypeError, match="torch.as_tensor"):
        make(Autoencoder).encode([[0.5]])


@pytest.mark.parametrize("z, message", [
    (torch.rand(4, 3), "\\(n, 2\\); got \\(4, 3\\)"),
    (torch.rand(2), "\\(n, 2\\); got \\(2,\\)"),
    (torch.ones(4, 2, dtype=torch.long), "z.float\\(\\)"),
])
def test_bad_latents_are_refused(z, message):
    with pytest.raises(ValueError, match=message):
        make(VAE).decode(z)


@pytest.mark.parametrize("kwargs, name", [
    (dict(kind="cnn"), "kind"),
    (dict(latent_dim=0), "latent_dim"),
    (dict(latent_dim=2.0), "latent_dim"),
    (dict(widths=()), "widths"),
    (dict(widths=32), "widths"),
    (dict(widths=(32, -1)), "widths"),
    (dict(image_shape=(28, 28)), "image_shape"),
])
def test_bad_constructor_arguments_name_the_parameter(kwargs, name):
    for cls in (Autoencoder, VAE):
        with pytest.raises(ValueError, match=name):
            cls(**kwargs)
    with pytest.raises(ValueError, match="beta"):
        VAE(beta=-1.0)


@pytest.mark.parametrize("kind", ["conv", "mlp"])
def test_autoencoder_loss_is_the_bce_summed_over_pixels_and_averaged_over_images(kind):
    model = make(Autoencoder, kind).double()
    x = torch.rand(6, 1, 28, 28, dtype=torch.float64)
    p = model(x)
    by_hand = -(x * torch.log(p) + (1 - x) * torch.log(1 - p)).sum(dim=(1, 2, 3)).mean()
    assert torch.allclose(model.loss(x), by_hand, rtol=1e-9)


def test_vae_loss_is_reconstruction_plus_beta_kl_from_one_sample():
    model = make(VAE, "mlp", beta=0.25).double()
    x = torch.rand(6, 1, 28, 28, dtype=torch.float64)
    torch.manual_seed(3)
    terms = model.loss_terms(x)
    torch.manual_seed(3)
    mean, logvar = model.encode_distribution(x)
    z = mean + torch.exp(0.5 * logvar) * torch.randn(mean.shape, dtype=mean.dtype)
    p = model.decode(z)
    reconstruction = -(x * torch.log(p) + (1 - x) * torch.log(1 - p)).sum(dim=(1, 2, 3)).mean()
    kl = (0.5 * (logvar.exp() + mean**2 - 1 - logvar).sum(dim=1)).mean()
    assert torch.allclose(terms["reconstruction"], reconstruction, rtol=1e-9)
    assert torch.allclose(terms["kl"], kl, rtol=1e-9)
    assert torch.allclose(terms["loss"], reconstruction + 0.25 * kl, rtol=1e-9)
    torch.manual_seed(3)
    assert torch.allclose(model.loss(x), terms["loss"])


def test_vae_encode_is_the_posterior_mean():
    model = make(VAE)
    x = torch.rand(4, 1, 28, 28)
    mean, logvar = model.encode_distribution(x)
    assert torch.equal(model.encode(x), mean) and logvar.shape == (4, 2)


def test_gaussian_kl_matches_a_monte_carlo_estimate():
    torch.manual_seed(0)
    mean, logvar = torch.randn(3, 4, dtype=torch.float64), torch.randn(3, 4, dtype=torch.float64)
    q = torch.distributions.Normal(mean, torch.exp(0.5 * logvar))
    p = torch.distributions.Normal(torch.zeros_like(mean), torch.ones_like(mean))
    z = q.sample((200_000,))
    monte_carlo = (q.log_prob(z) - p.log_prob(z)).sum(-1).mean(0)
    closed = gaussian_kl(mean, logvar)
    assert closed.shape == (3,)
    assert torch.allclose(closed, monte_carlo, rtol=0.02, atol=0.02)
    assert torch.allclose(gaussian_kl(torch.zeros(2, 5), torch.zeros(2, 5)), torch.zeros(2))


def test_reparameterize_lets_gradients_reach_mean_and_logvar():
    mean = torch.zeros(1000, 2, requires_grad=True)
    logvar = torch.full((1000, 2), math.log(4.0), requires_grad=True)
    z = reparameterize(mean, logvar, generator=torch.Generator().manual_seed(0))
    assert abs(z.std().item() - 2.0) < 0.1 and abs(z.mean().item()) < 0.15
    z.pow(2).sum().backward()
    assert mean.grad.abs().sum() > 0 and logvar.grad.abs().sum() > 0
    # d/dlogvar of z^2 = z^2 (since z = mean + exp(logvar/2) eps and mean = 0)
    assert torch.allclose(logvar.grad, z.detach() ** 2)


def test_reparameterize_repeats_with_a_generator():
    mean, logvar = torch.zeros(3, 2), torch.zeros(3, 2)
    a = reparameterize(mean, logvar, torch.Generator().manual_seed(1))
    b = reparameterize(mean, logvar, torch.Generator().manual_seed(1))
    assert torch.equal(a, b)


def test_sample_draws_images_and_repeats_with_a_generator():
    model = make(VAE, "conv", image_shape=(3, 32, 32))
    images = model.sample(5, generator=torch.Generator().manual_seed(0))
    assert images.shape == (5, 3, 32, 32) and images.min() >= 0 and images.max() <= 1
    assert not images.requires_grad
    assert torch.equal(images, model.sample(5, generator=torch.Generator().manual_seed(0)))
    assert not torch.equal(images, model.sample(5, generator=torch.Generator().manual_seed(1)))
    with pytest.raises(ValueError, match="n=0"):
        model.sample(0)


def test_shared_blocks_can_be_used_alone():
    encoder = models.ConvEncoder((3, 64, 64), (8, 16, 32), out_features=10)
    decoder = models.ConvDecoder(10, (8, 16, 32), (3, 64, 64))
    assert encoder.pad == (0, 0, 0, 0)
    out = decoder(encoder(torch.rand(2, 3, 64, 64)))
    assert out.shape == (2, 3, 64, 64)
    assert models.bernoulli_nll(torch.zeros(2, 1, 2, 2), torch.ones(2, 1, 2, 2)).allclose(
        torch.full((2,), 4 * math.log(2.0)))
    assert F.binary_cross_entropy_with_logits(torch.zeros(1), torch.ones(1)).item() == pytest.approx(math.log(2))


# ---- the importance-weighted estimate of log p(x) ----------------------------------------------------------------

@pytest.fixture(scope="module")
def trained_vae_and_images():
    """A small MLP VAE trained briefly on noisy copies of 6 binary 8x8 patterns: q(z|x) is then imperfect."""
    from course_lib import train
    g = torch.Generator().manual_seed(0)
    patterns = (torch.rand(6, 1, 8, 8, generator=g) < 0.5).float()
    x = patterns[torch.randint(0, 6, (600,), generator=g)]
    x = (x - (torch.rand(x.shape, generator=g) < 0.05).float()).abs()  # flip 5% of the pixels
    torch.manual_seed(0)
    model = VAE("mlp", latent_dim=2, widths=(32,), image_shape=(1, 8, 8))
    train.fit(model, x[:500], epochs=3, batch_size=50, lr=3e-3, device="cpu", progress=False)
    return model, x[500:]


def test_elbo_is_below_the_iwae_estimate_which_grows_with_k(trained_vae_and_images):
    model, x = trained_vae_and_images
    with torch.no_grad():  # the ELBO with the closed-form KL, averaged over 50 z per image (little noise left)
        mean, logvar = model.encode_distribution(x)
        elbo = torch.stack([-(models.bernoulli_nll(model.decoder(reparameterize(mean, logvar)), x)
                              + gaussian_kl(mean, logvar)) for _ in range(50)]).mean()
    estimates = {k: torch.stack([models.iwae_log_likelihood(model, x, k=k, generator=torch.Generator().manual_seed(s))
                                 .mean() for s in range(4)]).mean()  # 4 seeds: less noise than the gains below
                 for k in (1, 10, 100, 1000)}
    assert estimates[1].item() == pytest.approx(elbo.item(), abs=0.3)  # k=1 is a one-sample ELBO
    assert elbo + 0.1 < estimates[10] < estimates[100] < 0
    assert estimates[1000] > estimates[100] - 0.01
    assert estimates[1000] - estimates[100] < estimates[100] - estimates[10]  # it levels off towards log p(x)


def test_iwae_is_per_image_and_does_not_depend_on_the_batch_size(trained_vae_and_images):
    model, x = trained_vae_and_images
    estimates = [models.iwae_log_likelihood(model, x[:7], k=20, batch_size=size,
                                            generator=torch.Generator().manual_seed(1)) for size in (20, 30, 500)]
    assert estimates[0].shape == (7,) and torch.isfinite(estimates[0]).all()
    for other in estimates[1:]:  # 1, 1 and all 7 images per pass: the same noise, so the same numbers
        assert torch.allclose(estimates[0], other, atol=1e-5)
    # each entry is its own image's estimate: scoring the images in reverse order reverses the result
    reverse = models.iwae_log_likelihood(model, x[:7].flip(0), k=2000, generator=torch.Generator().manual_seed(2))
    forward = models.iwae_log_likelihood(model, x[:7], k=2000, generator=torch.Generator().manual_seed(3))
    assert forward.std() > 1.0  # the images differ clearly in likelihood ...
    assert torch.allclose(reverse.flip(0), forward, atol=0.2)  # ... and each estimate stays with its image
    with torch.no_grad():  # and the estimate is the log of the mean importance weight, by hand for image 0
        g = torch.Generator().manual_seed(1)
        mean, logvar = model.encode_distribution(x[:1])
        eps = torch.randn(7 * 20, 2, generator=g)[:20]  # the noise of all 7 images is drawn first
        z = mean + torch.exp(0.5 * logvar) * eps
        normal = torch.distributions.Normal(0.0, 1.0)
        log_w = (-models.bernoulli_nll(model.decoder(z), x[:1].expand(20, -1, -1, -1)) + normal.log_prob(z).sum(1)
                 - torch.distributions.Normal(mean, torch.exp(0.5 * logvar)).log_prob(z).sum(1))
    assert estimates[0][0].item() == pytest.approx((log_w.exp().mean().log()).item(), abs=1e-4)


@pytest.mark.parametrize("kwargs, name", [({"k": 0}, "k="), ({"k": 2.5}, "k="), ({"batch_size": 0}, "batch_size=")])
def test_iwae_refuses_bad_arguments(trained_vae_and_images, kwargs, name):
    model, x = trained_vae_and_images
    with pytest.raises(ValueError, match=name):
        models.iwae_log_likelihood(model, x[:2], **kwargs)
    with pytest.raises(TypeError, match="VAE"):
        models.iwae_log_likelihood(make(Autoencoder), torch.rand(2, 1, 28, 28))


# ---- free bits, rate and distortion, active units ---------------------------------------------------------------

def test_free_bits_floors_each_units_batch_averaged_kl():
    model = make(VAE, "mlp", latent_dim=4, beta=2.0, free_bits=0.3).double()
    with torch.no_grad():
        model.encoder.net[-1].weight[:2] *= 30.0  # units 0 and 1: means far from 0, a KL above the floor
    x = torch.rand(8, 1, 28, 28, dtype=torch.float64)
    torch.manual_seed(1)
    terms = model.loss_terms(x)
    mean, logvar = model.encode_distribution(x)
    per_unit = (0.5 * (logvar.exp() + mean**2 - 1 - logvar)).mean(dim=0)  # (4,), averaged over the batch
    assert torch.allclose(terms["kl"], per_unit.sum())  # kl stays the true KL
    assert torch.allclose(terms["loss"], terms["reconstruction"] + 2.0 * torch.maximum(per_unit, torch.tensor(0.3)).sum())
    assert (per_unit < 0.3).any() and (per_unit > 0.3).any()  # the floor binds for some units, not all


def test_free_bits_removes_the_kl_gradient_of_units_below_the_floor():
    model = make(VAE, "mlp", latent_dim=3, free_bits=1000.0)  # every unit's KL is far below the floor
    x = torch.rand(8, 1, 28, 28)
    torch.manual_seed(0)
    terms = model.loss_terms(x)
    assert torch.allclose(terms["loss"] - terms["reconstruction"], torch.tensor(3000.0))
    mean, logvar = model.encode_distribution(x)
    penalty = (models.gaussian_kl_per_unit(mean, logvar).mean(0).clamp(min=model.free_bits)).sum()
    assert torch.autograd.grad(penalty, mean, retain_graph=True)[0].abs().max() == 0


def test_the_beta_of_one_call_overrides_the_models():
    model = make(VAE, "mlp", beta=4.0)
    x = torch.rand(5, 1, 28, 28)
    torch.manual_seed(2)
    terms = model.loss_terms(x, beta=0.5)
    assert torch.allclose(terms["loss"], terms["reconstruction"] + 0.5 * terms["kl"])
    torch.manual_seed(2)
    assert torch.allclose(model.loss(x, beta=0.5), terms["loss"])
    assert model.beta == 4.0 and VAE(free_bits=0.5).config["free_bits"] == 0.5


def test_rate_plus_distortion_is_the_negative_elbo_with_the_same_noise():
    model = make(VAE, "mlp", latent_dim=3).double()
    x = (torch.rand(10, 1, 28, 28) < 0.3).double()
    rate, distortion = models.rate_distortion(model, x, batch_size=4, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        mean, logvar = model.encode_distribution(x)
        assert rate == pytest.approx(gaussian_kl(mean, logvar).mean().item(), rel=1e-9)
        g = torch.Generator().manual_seed(0)  # the same noise, batch by batch
        z = torch.cat([reparameterize(m, lv, g) for m, lv in zip(mean.split(4), logvar.split(4))])
        nll = models.bernoulli_nll(model.decode_logits(z), x).mean().item()
    assert distortion == pytest.approx(nll, rel=1e-9)
    torch.manual_seed(0)
    with torch.no_grad():
        one_z = model.loss(x).item()  # another z: the same up to noise
    assert rate + distortion == pytest.approx(one_z, rel=0.02)


def test_active_units_count_the_units_whose_posterior_mean_varies():
    model = make(VAE, "mlp", latent_dim=5)
    with torch.no_grad():  # units 0 and 3: a mean that ignores x (the last layer's first 5 outputs are the means)
        last = model.encoder.net[-1]
        last.weight[[0, 3]] = 0.0
        last.bias[[0, 3]] = 0.7
        last.weight[1] *= 0.01  # unit 1: moves, but too little to count
        last.weight[[2, 4]] *= 50.0  # units 2 and 4: move a lot
    x = torch.rand(200, 1, 28, 28)
    activity = models.unit_activity(model, x, batch_size=64)
    with torch.no_grad():
        assert torch.allclose(activity, model.encode(x).var(dim=0))
    assert activity.shape == (5,) and activity[[0, 3]].max() == 0 and 0 < activity[1] < 0.01
    assert models.active_units(model, x) == 2
    assert models.active_units(model, x, threshold=activity[1].item() / 2) == 3
    assert models.active_units(model, x, threshold=1e6) == 0


@pytest.mark.parametrize("call, error, message", [
    (lambda m, x: models.active_units(m, x, threshold=0), ValueError, "threshold=0"),
    (lambda m, x: models.active_units(m, x, threshold=-0.01), ValueError, "threshold"),
    (lambda m, x: models.active_units(m, x[:1]), ValueError, "at least 2 images"),
    (lambda m, x: models.unit_activity(m, x, batch_size=0), ValueError, "batch_size"),
    (lambda m, x: models.rate_distortion(m, x, batch_size=1.5), ValueError, "batch_size"),
    (lambda m, x: models.rate_distortion(m, x * 2), ValueError, "\\[0, 1\\]"),
    (lambda m, x: models.active_units(make(Autoencoder, "mlp"), x), TypeError, "VAE"),
    (lambda m, x: models.rate_distortion(make(Autoencoder, "mlp"), x), TypeError, "VAE"),
    (lambda m, x: VAE(free_bits=-0.5), ValueError, "free_bits=-0.5"),
    (lambda m, x: VAE(free_bits=float("inf")), ValueError, "free_bits"),
])
def test_the_failure_mode_measures_refuse_bad_arguments(call, error, message):
    with pytest.raises(error, match=message):
        call(make(VAE, "mlp"), torch.rand(4, 1, 28, 28))
