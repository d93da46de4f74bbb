//! The real MNIST and Fashion-MNIST files from the project's `shared/data`
//! (beside the repository): checksums, counts, known labels, and the loader's
//! handling of decompressed and altered copies. Offline throughout.

mod common;

use common::{assert_mentions, scratch_dir};
use datasets::{Dataset, Downloader, Error, ImageSet, Part, Split, load, read_labels, verify_file};
use std::io::Read;
use std::path::{Path, PathBuf};

fn dir_of(dataset: Dataset) -> PathBuf {
    common::shared_data().join(match dataset {
        Dataset::Mnist => "mnist",
        Dataset::Fashion => "fashion-mnist",
    })
}

fn load_offline(dataset: Dataset, split: Split) -> ImageSet {
    let dir = dir_of(dataset);
    load(dataset, split, Some(&dir), &Downloader::offline())
        .unwrap_or_else(|e| panic!("loading {dataset} {split} from {}: {e}", dir.display()))
}

/// How many examples each class has.
fn class_counts(set: &ImageSet) -> [usize; 10] {
    let mut counts = [0; 10];
    for &label in set.labels() {
        counts[usize::from(label)] += 1;
    }
    counts
}

#[test]
fn the_shared_files_match_the_published_checksums() {
    for dataset in Dataset::ALL {
        for file in dataset.files() {
            let path = dir_of(dataset).join(file.name);
            verify_file(&path, file.sha256).unwrap_or_else(|e| panic!("{dataset} {}: {e}", file.name));
        }
    }
}

#[test]
fn mnist_loads_with_the_right_counts_and_labels() {
    let train = load_offline(Dataset::Mnist, Split::Train);
    assert_eq!((train.len(), train.rows(), train.cols()), (60_000, 28, 28));
    assert_eq!(&train.labels()[..10], &[5, 0, 4, 1, 9, 2, 1, 3, 1, 4]);
    // The classic normalisation constant: the mean pixel is 0.1307 · 255.
    let mean = train.pixels().iter().map(|&p| f64::from(p)).sum::<f64>() / train.pixels().len() as f64;
    assert!((mean / 255.0 - 0.1307).abs() < 5e-4, "mean pixel {mean}");
    assert_eq!(
        class_counts(&train)[1],
        6742,
        "the number of ones in MNIST's train set"
    );

    let test = load_offline(Dataset::Mnist, Split::Test);
    assert_eq!(test.len(), 10_000);
    assert_eq!(&test.labels()[..10], &[7, 2, 1, 0, 4, 1, 4, 9, 5, 9]);
}

#[test]
fn fashion_mnist_loads_with_the_right_counts_and_labels() {
    let train = load_offline(Dataset::Fashion, Split::Train);
    assert_eq!((train.len(), train.rows(), train.cols()), (60_000, 28, 28));
    assert_eq!(&train.labels()[..10], &[9, 0, 0, 3, 0, 2, 7, 2, 5, 5]);
    assert_eq!(class_counts(&train), [6000; 10], "Fashion-MNIST is balanced");
    assert_eq!(
        Dataset::Fashion.class_names()[train.labels()[0] as usize],
        "Ankle boot"
    );

    let test = load_offline(Dataset::Fashion, Split::Test);
    assert_eq!(test.len(), 10_000);
    assert_eq!(class_counts(&test), [1000; 10]);
    assert_eq!(&test.labels()[..5], &[9, 2, 1, 1, 6]);
}

#[test]
fn decompressed_files_are_accepted_and_verified() {
    let dir = scratch_dir("real-decompressed");
    let images = Dataset::Mnist.file(Split::Test, Part::Images);
    let labels = Dataset::Mnist.file(Split::Test, Part::Labels);
    std::fs::copy(dir_of(Dataset::Mnist).join(images.name), dir.join(images.name))
        .expect("copying the test images");
    let mut raw = Vec::new();
    flate2::read::GzDecoder::new(
        std::fs::File::open(dir_of(Dataset::Mnist).join(labels.name)).expect("opening"),
    )
    .read_to_end(&mut raw)
    .expect("decompressing the test labels");
    std::fs::write(dir.join(labels.raw_name), &raw).expect("writing");

    let test = load(Dataset::Mnist, Split::Test, Some(&dir), &Downloader::offline())
        .expect("a .gz and a decompressed file");
    assert_eq!(test.len(), 10_000);
    assert_eq!(
        test.labels(),
        &read_labels(&dir.join(labels.raw_name)).expect("raw")[..]
    );

    // A decompressed file that is not the original is refused.
    raw[100] = 9 - raw[100];
    std::fs::write(dir.join(labels.raw_name), &raw).expect("writing");
    let err = load(Dataset::Mnist, Split::Test, Some(&dir), &Downloader::offline()).unwrap_err();
    assert!(matches!(err, Error::Checksum { .. }), "{err:?}");
    assert_mentions(&err.to_string(), &[labels.raw_name, labels.raw_sha256]);
}

#[test]
fn an_altered_gzip_file_is_refused_and_kept() {
    let dir = scratch_dir("real-altered");
    let file = Dataset::Fashion.file(Split::Test, Part::Labels);
    let mut bytes = std::fs::read(dir_of(Dataset::Fashion).join(file.name)).expect("reading");
    let last = bytes.len() - 1;
    bytes[last] ^= 1;
    std::fs::write(dir.join(file.name), &bytes).expect("writing");
    // (That no download replaces it even online is tested against a local
    // server in data_download.rs.)
    let err = load(Dataset::Fashion, Split::Test, Some(&dir), &Downloader::offline()).unwrap_err();
    assert!(matches!(err, Error::Checksum { .. }), "{err:?}");
    assert_mentions(&err.to_string(), &[file.name, file.sha256, "left untouched"]);
    assert_eq!(std::fs::read(dir.join(file.name)).expect("kept"), bytes);
}

#[test]
fn dataset_names_and_files() {
    assert_eq!("mnist".parse::<Dataset>(), Ok(Dataset::Mnist));
    assert_eq!("Fashion".parse::<Dataset>(), Ok(Dataset::Fashion));
    assert_eq!("fashion-mnist".parse::<Dataset>(), Ok(Dataset::Fashion));
    assert!("cifar".parse::<Dataset>().unwrap_err().contains("\"cifar\""));
    assert_eq!(Dataset::Fashion.to_string(), "fashion");
    assert_eq!(
        Dataset::Fashion.class_names(),
        &[
            "T-shirt/top",
            "Trouser",
            "Pullover",
            "Dress",
            "Coat",
            "Sandal",
            "Shirt",
            "Sneaker",
            "Bag",
            "Ankle boot"
        ]
    );
    let names: Vec<&str> = Dataset::Mnist.files().iter().map(|f| f.name).collect();
    assert_eq!(
        names,
        [
            "train-images-idx3-ubyte.gz",
            "train-labels-idx1-ubyte.gz",
            "t10k-images-idx3-ubyte.gz",
            "t10k-labels-idx1-ubyte.gz"
        ]
    );
    assert!(Dataset::Mnist.mirrors().len() >= 2 && Dataset::Fashion.mirrors().len() >= 2);
}

#[test]
fn the_data_directory_precedence() {
    use datasets::{DirOrigin, locate_with};
    use std::ffi::OsStr;
    let explicit = locate_with(Dataset::Mnist, Some(Path::new("/x")), Some(OsStr::new("/y")));
    assert_eq!(
        (explicit.path, explicit.origin),
        (PathBuf::from("/x"), DirOrigin::Explicit)
    );
    let env = locate_with(Dataset::Mnist, None, Some(OsStr::new("/y")));
    assert_eq!((env.path, env.origin), (PathBuf::from("/y"), DirOrigin::Env));
    let default = locate_with(Dataset::Mnist, None, None);
    assert_eq!(
        (default.path, default.origin),
        (PathBuf::from("data/mnist"), DirOrigin::Default)
    );
    assert_eq!(Dataset::Fashion.env_var(), "FASHION_MNIST_DIR");
}
