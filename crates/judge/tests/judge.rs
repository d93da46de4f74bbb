//! The committed judges: accurate on the real test sets, and their figures
//! on real data are the ceiling `gan-mnist eval` compares samples with.

#[path = "../../datasets/tests/common/mod.rs"]
mod common;

use datasets::{Dataset, Downloader, ImageSet, PixelRange, Split};
use judge::Reference;
use judge::judge::{Judge, to_judge_input};
use judge::judge_train::accuracy;
use tensor::Tensor;

fn load(dataset: Dataset, split: Split) -> ImageSet {
    let folder = match dataset {
        Dataset::Mnist => "mnist",
        Dataset::Fashion => "fashion-mnist",
    };
    let dir = common::shared_data().join(folder);
    datasets::load(dataset, split, Some(&dir), &Downloader::offline()).expect("the shared data loads")
}

#[test]
fn the_mnist_judge_is_at_least_99_percent_accurate() {
    let judge = Judge::pretrained(Dataset::Mnist).unwrap();
    let test = load(Dataset::Mnist, Split::Test);
    assert_eq!(test.len(), 10_000);
    let acc = accuracy(&judge, &test).unwrap();
    eprintln!("MNIST judge: {:.2}% on the test set", 100.0 * acc);
    assert!(acc >= 0.99, "{acc}");
}

#[test]
fn the_fashion_judge_is_at_least_90_percent_accurate() {
    let judge = Judge::pretrained(Dataset::Fashion).unwrap();
    let test = load(Dataset::Fashion, Split::Test);
    let acc = accuracy(&judge, &test).unwrap();
    eprintln!("Fashion-MNIST judge: {:.2}% on the test set", 100.0 * acc);
    assert!(acc >= 0.90, "{acc}");
}

#[test]
fn real_digits_score_near_ten_and_sit_close_to_the_test_set() {
    let judge = Judge::pretrained(Dataset::Mnist).unwrap();
    let test = load(Dataset::Mnist, Split::Test);
    let train = load(Dataset::Mnist, Split::Train);
    let reference = Reference::new(judge, &test, &(0..test.len()).collect::<Vec<_>>()).unwrap();
    // 5,000 real images the reference never saw.
    let real = reference
        .quality_of_set(&train, &(0..5000).collect::<Vec<_>>())
        .unwrap();
    eprintln!("real: {real:?}");
    assert!(real.classifier_score > 9.5, "{}", real.classifier_score);
    assert!(real.missing_classes.is_empty());
    assert!(real.min_share > 0.08 && real.max_share < 0.125, "{real:?}");
    // Fewer classes, lower score, further away: the first 5,000 images of
    // digits 0–4 only.
    let low: Vec<usize> = (0..train.len())
        .filter(|&i| train.label(i).unwrap() < 5)
        .take(5000)
        .collect();
    let half = reference.quality_of_set(&train, &low).unwrap();
    assert!(
        half.classifier_score < 5.2 && half.classifier_score > 4.0,
        "{half:?}"
    );
    assert_eq!(half.missing_classes, vec![5, 6, 7, 8, 9]);
    assert!(
        half.frechet_distance > 10.0 * real.frechet_distance,
        "{half:?} vs {real:?}"
    );
}

#[test]
fn judge_input_crops_padding_and_rescales_unit_images() {
    // A 32×32 [0, 1] image whose centre 28×28 is 1 and border 0.
    let mut values = vec![0.0f32; 32 * 32];
    for r in 2..30 {
        for c in 2..30 {
            values[r * 32 + c] = 1.0;
        }
    }
    let x = Tensor::from_vec(values, &[1, 1, 32, 32]).unwrap();
    let y = to_judge_input(&x, PixelRange::Unit).unwrap();
    assert_eq!(y.shape(), vec![1, 1, 28, 28]);
    assert!(y.to_vec().iter().all(|&v| v == 1.0));
    let x = Tensor::from_vec(vec![0.5f32; 28 * 28], &[1, 1, 28, 28]).unwrap();
    assert_eq!(
        to_judge_input(&x, PixelRange::Symmetric).unwrap().to_vec(),
        x.to_vec()
    );
    let err = to_judge_input(&Tensor::zeros(&[2, 3, 28, 28]), PixelRange::Symmetric).unwrap_err();
    assert!(err.to_string().contains("[2, 3, 28, 28]"), "{err}");
}
