//! Chapter 6 of the book (`docs/06-the-keras-tutorial.md`): the faults of the
//! Keras tutorial's code, each shown with this project's own pieces.
//!
//! ```text
//! cargo run --release -p gan-mnist --example book_keras -- --data-dir /path/to/mnist
//! ```
//!
//! 1. A reshape whose element counts do not match is an error, with the
//!    shapes in the message.
//! 2. Dense 1024 → 64 → 128 → 256 → 1 with no activation is one linear map:
//!    the product of the weights gives the same outputs.
//! 3. Such a discriminator cannot tell real digits from "pixel soup" with the
//!    same mean image, while the same layers with LeakyReLU can.
//! 4. A fake batch that is not detached sends the discriminator's loss into
//!    the generator's weights.
//! 5. A loop whose generator step also updates the discriminator (with the
//!    fakes labelled "real"), against the project's loop: writes
//!    `docs/images/book-keras-loop-{right,wrong}.png`.

#[path = "book_common/mod.rs"]
mod book_common;

use datasets::{BatchOptions, ImageSet, PixelRange};
use gan::models::{GanModel, mlp, tutorial};
use nn::loss::bce_with_logits_to;
use nn::{Adam, AdamConfig, Flatten, LeakyReLU, Linear, Module, Optimizer, Reshape, Sequential};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use runs::grid::{image_grid, write_png};
use tensor::{Tensor, no_grad};

/// The tutorial's batches: 28×28 digits padded to 32×32, pixels in [0, 1].
const FORMAT: BatchOptions = BatchOptions {
    range: PixelRange::Unit,
    pad_to: Some(32),
};

/// Dense layers through `widths`, with LeakyReLU(0.2) between them or not.
fn dense_stack(widths: &[usize], leaky: bool, rng: &mut ChaCha8Rng) -> Sequential {
    let mut net = Sequential::new().push(Flatten);
    for (i, pair) in widths.windows(2).enumerate() {
        if i > 0 && leaky {
            net = net.push(LeakyReLU::new(0.2));
        }
        net = net.push(Linear::new(pair[0], pair[1], rng));
    }
    net
}

/// `n` random real images, as the tutorial's `[n, 1, 32, 32]` in [0, 1].
fn real_batch(data: &ImageSet, rng: &mut ChaCha8Rng, n: usize) -> Result<Tensor, Box<dyn std::error::Error>> {
    real_batch_as(data, rng, n, FORMAT)
}

/// `n` random real images, batched as `format` says.
fn real_batch_as(
    data: &ImageSet,
    rng: &mut ChaCha8Rng,
    n: usize,
    format: BatchOptions,
) -> Result<Tensor, Box<dyn std::error::Error>> {
    let indices: Vec<usize> = (0..n).map(|_| rng.random_range(0..data.len())).collect();
    Ok(data.batch(&indices, format)?.images)
}

/// "Pixel soup": each pixel of each image copied from the same position of
/// a random real image. Every pixel has the real data's distribution (so
/// the mean image is the same), but the pixels are independent: no strokes.
fn pixel_soup(data: &ImageSet, rng: &mut ChaCha8Rng, n: usize) -> Result<Tensor, Box<dyn std::error::Error>> {
    let pool = real_batch(data, rng, 512)?.to_vec();
    let plane = 32 * 32;
    let values = (0..n * plane)
        .map(|i| pool[rng.random_range(0..512) * plane + i % plane])
        .collect();
    Ok(Tensor::from_vec(values, &[n, 1, 32, 32])?)
}

/// Trains `d` to tell real images from pixel soup (the tutorial's Adam and
/// BCE) and returns its accuracy on 1,000 + 1,000 fresh images.
fn separate(
    d: &Sequential,
    data: &ImageSet,
    steps: usize,
    rng: &mut ChaCha8Rng,
) -> Result<f64, Box<dyn std::error::Error>> {
    let mut opt = Adam::new(d.named_parameters(), AdamConfig::gan());
    for _ in 0..steps {
        let (real, soup) = (real_batch(data, rng, 64)?, pixel_soup(data, rng, 64)?);
        opt.zero_grad();
        let loss = bce_with_logits_to(&d.forward(&real)?, 1.0)?
            .add(&bce_with_logits_to(&d.forward(&soup)?, 0.0)?)?;
        loss.backward()?;
        opt.step()?;
    }
    let (real, soup) = (real_batch(data, rng, 1000)?, pixel_soup(data, rng, 1000)?);
    let right_real = no_grad(|| d.forward(&real))?
        .to_vec()
        .iter()
        .filter(|&&a| a > 0.0)
        .count();
    let right_soup = no_grad(|| d.forward(&soup))?
        .to_vec()
        .iter()
        .filter(|&&a| a <= 0.0)
        .count();
    Ok((right_real + right_soup) as f64 / 2000.0)
}

/// Trains the `mlp` model (W1) for `steps` with the project's loop, or with
/// the generator step also stepping the discriminator's optimizer (`wrong`).
/// Returns the mean D(x) and D(G(z)) of the last 100 steps, and writes the
/// 8×8 grid of the fixed noise to `png`.
fn train_loop(
    data: &ImageSet,
    wrong: bool,
    steps: usize,
    png: &std::path::Path,
) -> Result<(f64, f64), Box<dyn std::error::Error>> {
    let mut rng = ChaCha8Rng::seed_from_u64(5);
    let mut model = mlp(&mut rng);
    let format = model.batch_options();
    let mut opt_g = Adam::new(model.generator().named_parameters(), AdamConfig::gan());
    let mut opt_d = Adam::new(model.discriminator().named_parameters(), AdamConfig::gan());
    let labels = vec![0; 64];
    let (mut d_real, mut d_fake) = (0.0, 0.0);
    for step in 0..steps {
        // Discriminator: real labelled 1, detached fakes labelled 0.
        let real = real_batch_as(data, &mut rng, 64, format)?;
        let z = Tensor::randn(&[64, 100], 0.0, 1.0, &mut rng)?;
        let fake = no_grad(|| model.generate(&z, &labels))?;
        opt_d.zero_grad();
        let real_logits = model.discriminate(&real, &labels)?;
        let fake_logits = model.discriminate(&fake, &labels)?;
        bce_with_logits_to(&real_logits, 1.0)?
            .add(&bce_with_logits_to(&fake_logits, 0.0)?)?
            .backward()?;
        opt_d.step()?;
        // Generator: fakes scored against the label "real".
        let z = Tensor::randn(&[64, 100], 0.0, 1.0, &mut rng)?;
        opt_g.zero_grad();
        opt_d.zero_grad();
        bce_with_logits_to(&model.discriminate(&model.generate(&z, &labels)?, &labels)?, 1.0)?.backward()?;
        opt_g.step()?;
        if wrong {
            // The bug: D is not frozen in the combined model, so this step
            // also trains D, on fakes labelled "real".
            opt_d.step()?;
        }
        if step + 100 >= steps {
            d_real += f64::from(real_logits.sigmoid().mean().item()?) / 100.0;
            d_fake += f64::from(fake_logits.sigmoid().mean().item()?) / 100.0;
        }
    }
    let z = Tensor::randn(&[64, 100], 0.0, 1.0, &mut ChaCha8Rng::seed_from_u64(7))?;
    model.set_training(false);
    let images = no_grad(|| model.generate(&z, &labels))?;
    write_png(&image_grid(&images, 8, format.range)?, png)?;
    println!("  wrote {}", png.display());
    Ok((d_real, d_fake))
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut rng = ChaCha8Rng::seed_from_u64(1);

    println!("1. Reshapes whose sizes do not match:");
    for (outputs, shape) in [(784usize, [1usize, 32, 32]), (1024, [1, 28, 28])] {
        let x = Tensor::<f32>::zeros(&[2, outputs]);
        match Module::<f32>::forward(&Reshape::new(&shape), &x) {
            Ok(_) => return Err("a mismatched reshape passed".into()),
            Err(e) => println!("  Reshape({shape:?}) after Dense({outputs}): {e}"),
        }
    }

    println!("\n2. Dense 1024 → 64 → 128 → 256 → 1 without activations is one linear map:");
    let layers: Vec<Linear<f64>> = [(1024, 64), (64, 128), (128, 256), (256, 1)]
        .iter()
        .map(|&(i, o)| Linear::new(i, o, &mut rng))
        .collect();
    let x = Tensor::<f64>::rand_uniform(&[16, 1024], 0.0, 1.0, &mut rng)?;
    let mut deep = x.clone();
    for layer in &layers {
        deep = layer.forward(&deep)?;
    }
    // y = W₄(W₃(W₂(W₁x + b₁) + b₂) + b₃) + b₄ = (W₄W₃W₂W₁)x + (W₄W₃W₂b₁ + W₄W₃b₂ + W₄b₃ + b₄)
    let mut weight = layers[0].weight.clone();
    let mut bias = layers[0].bias.clone().ok_or("bias")?;
    for layer in &layers[1..] {
        weight = layer.weight.matmul(&weight)?;
        let b = layer.bias.clone().ok_or("bias")?;
        bias = layer
            .weight
            .matmul(&bias.reshape(&[bias.numel(), 1])?)?
            .reshape(&[b.numel()])?
            .add(&b)?;
    }
    let single = Linear::from_tensors(weight.detach(), Some(bias.detach()))?;
    let one = single.forward(&x)?;
    let gap = deep
        .to_vec()
        .iter()
        .zip(one.to_vec())
        .map(|(a, b)| (a - b).abs())
        .fold(0.0, f64::max);
    println!(
        "  4 layers, {} weights; one Linear(1024 → 1), {} weights; max |difference| on 16 inputs = {gap:.1e}",
        layers
            .iter()
            .map(|l| l.weight.numel() + l.weight.shape()[0])
            .sum::<usize>(),
        single.weight.numel() + 1
    );

    let data = book_common::mnist_train()?;
    println!(
        "\n3. Real digits against pixel soup (same mean image), 600 steps of Adam(2e-4, 0.5), batch 64 + 64:"
    );
    let widths = [1024, 64, 128, 256, 1];
    let linear_acc = separate(&dense_stack(&widths, false, &mut rng), &data, 600, &mut rng)?;
    let leaky_acc = separate(&dense_stack(&widths, true, &mut rng), &data, 600, &mut rng)?;
    println!(
        "  held-out accuracy, no activations (the tutorial's D): {:.1} %",
        100.0 * linear_acc
    );
    println!(
        "  held-out accuracy, LeakyReLU(0.2) between layers:   {:.1} %",
        100.0 * leaky_acc
    );
    let soup = pixel_soup(&data, &mut rng, 16)?;
    let soup_png = book_common::images_dir()?.join("book-keras-pixel-soup.png");
    write_png(&image_grid(&soup, 8, PixelRange::Unit)?, &soup_png)?;
    println!("  wrote {}", soup_png.display());

    println!("\n4. The fake batch of the discriminator step, not detached:");
    let model = tutorial(&mut rng);
    let z = Tensor::randn(&[64, 100], 0.0, 1.0, &mut rng)?;
    for detached in [false, true] {
        model.generator().zero_grad();
        let fake = if detached {
            no_grad(|| model.generate(&z, &[]))?
        } else {
            model.generate(&z, &[])?
        };
        bce_with_logits_to(&model.discriminate(&fake, &[])?, 0.0)?.backward()?;
        let touched = model
            .generator()
            .parameters()
            .iter()
            .filter(|p| p.grad().is_some())
            .count();
        println!(
            "  detached: {detached:5}  → generator weights given a gradient by D's loss: {touched} of {}",
            model.generator().parameters().len()
        );
    }

    println!("\n5. Training loops, mlp model (W1), 937 steps (one epoch) each:");
    let dir = book_common::images_dir()?;
    for (wrong, name) in [(false, "right"), (true, "wrong")] {
        let (d_real, d_fake) = train_loop(
            &data,
            wrong,
            937,
            &dir.join(format!("book-keras-loop-{name}.png")),
        )?;
        println!(
            "  {}: last 100 steps, mean D(x) = {d_real:.3}, mean D(G(z)) = {d_fake:.3}",
            if wrong {
                "generator step also steps D (fakes labelled real)"
            } else {
                "the project's loop (D not updated in the generator step)"
            }
        );
    }
    Ok(())
}
