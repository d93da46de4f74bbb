//! The models: shapes in and out, parameter names as PyTorch would give them,
//! and parameter counts worked out by hand from the architectures.

use gan::models::ModelKind;
use nn::Module;
use rand::SeedableRng;
use tensor::Tensor;

fn names(module: &dyn Module) -> Vec<String> {
    module.named_parameters().into_iter().map(|(n, _)| n).collect()
}

#[test]
fn shapes_names_and_sizes() {
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(0);
    // (model, image side, G params, D params)
    let linear = |i: usize, o: usize| i * o + o;
    let cases = [
        (
            ModelKind::Mlp,
            28,
            linear(100, 256) + linear(256, 512) + linear(512, 1024) + linear(1024, 784),
            linear(784, 512) + linear(512, 256) + linear(256, 1),
        ),
        (
            ModelKind::Dcgan,
            28,
            // Linear, BN(128) γβ, ConvT 128→64 k4 + bias, BN(64), ConvT 64→1 k4 + bias
            linear(100, 6272) + 2 * 128 + (128 * 64 * 16 + 64) + 2 * 64 + (64 * 16 + 1),
            // Conv 1→64 k4 + bias, Conv 64→128 k4 + bias, BN(128), Linear 6272→1
            (64 * 16 + 64) + (64 * 128 * 16 + 128) + 2 * 128 + linear(6272, 1),
        ),
        (
            ModelKind::DcganGlobal,
            28,
            // Linear 100→192·7·7, BN(192), ConvT 192→96 k4 + bias, BN(96), ConvT 96→1 k4 + bias
            linear(100, 192 * 49) + 2 * 192 + (192 * 96 * 16 + 96) + 2 * 96 + (96 * 16 + 1),
            // Conv 1→64 k4, Conv 64→128 k4, BN(128), the global head Linear 6272→256, Linear 256→1
            (64 * 16 + 64) + (64 * 128 * 16 + 128) + 2 * 128 + linear(6272, 256) + linear(256, 1),
        ),
        (
            ModelKind::Tutorial,
            32,
            // Linear layers, and BatchNorm γβ after each hidden one
            linear(100, 256)
                + linear(256, 512)
                + linear(512, 1024)
                + linear(1024, 1024)
                + 2 * (256 + 512 + 1024),
            linear(1024, 64) + linear(64, 128) + linear(128, 256) + linear(256, 1),
        ),
    ];
    for (kind, side, g_params, d_params) in cases {
        let model = kind.build(&mut rng).unwrap();
        assert_eq!(model.generator().parameter_count(), g_params, "{kind} G");
        assert_eq!(model.discriminator().parameter_count(), d_params, "{kind} D");
        let z = Tensor::zeros(&[3, model.noise_dim()]);
        let images = model.generate(&z, &[]).unwrap();
        assert_eq!(images.shape(), [3, 1, side, side], "{kind}");
        assert_eq!(
            model.discriminate(&images, &[]).unwrap().shape(),
            [3, 1],
            "{kind}"
        );
    }
    let model = ModelKind::Dcgan.build(&mut rng).unwrap();
    assert_eq!(
        names(model.generator()),
        [
            "0.weight", "0.bias", "2.weight", "2.bias", "4.weight", "4.bias", "5.weight", "5.bias",
            "7.weight", "7.bias"
        ]
    );
    let model = ModelKind::Mlp.build(&mut rng).unwrap();
    assert_eq!(
        names(model.discriminator()),
        ["1.weight", "1.bias", "3.weight", "3.bias", "5.weight", "5.bias"]
    );
}

#[test]
fn model_and_loss_names_parse_and_refuse_typos() {
    for kind in ModelKind::ALL {
        assert_eq!(kind.name().parse::<ModelKind>().unwrap(), kind);
    }
    let err = "dcgna".parse::<ModelKind>().unwrap_err();
    assert!(
        err.contains("dcgna") && err.contains("mlp, dcgan, dcgan-global, tutorial"),
        "{err}"
    );
    assert!("hinge".parse::<gan::loss::LossKind>().is_ok());
}

#[test]
fn dcgan_global_names_its_layers_like_pytorch() {
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(0);
    let model = ModelKind::DcganGlobal.build(&mut rng).unwrap();
    assert_eq!(
        names(model.discriminator()),
        [
            "0.weight", "0.bias", "2.weight", "2.bias", "3.weight", "3.bias", "6.weight", "6.bias",
            "8.weight", "8.bias"
        ]
    );
}
