//! `gan-mnist classifier train`: trains the judge that `eval` uses and
//! writes its weights as a safetensors file.

use super::load_split;
use crate::cli::ClassifierTrainArgs;
use datasets::Split;
use judge::judge_train::{JudgeTrainConfig, train_judge};
use std::collections::HashMap;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

/// Trains, reports each epoch, writes the weights atomically.
pub fn train(args: ClassifierTrainArgs) -> Result<ExitCode, String> {
    let started = Instant::now();
    let dir = args.data_dir.as_deref();
    let train_set = load_split(args.dataset, Split::Train, dir, args.offline)?;
    let test_set = load_split(args.dataset, Split::Test, dir, args.offline)?;
    let out = args
        .out
        .clone()
        .unwrap_or_else(|| PathBuf::from(format!("judge-{}.safetensors", args.dataset.name())));
    let config = JudgeTrainConfig {
        epochs: args.epochs as usize,
        seed: args.seed,
        ..JudgeTrainConfig::default()
    };
    println!(
        "gan-mnist: training the {} classifier ({} images), {} epochs, batch {}, seed {}, {} threads → {}",
        args.dataset.title(),
        train_set.len(),
        config.epochs,
        config.batch_size,
        config.seed,
        rayon::current_num_threads(),
        out.display()
    );
    let (judge, epochs) = train_judge(&train_set, &test_set, config, |e| {
        println!(
            "epoch {}: train loss {:.4}, test accuracy {:.2}% ({:.1} s)",
            e.epoch,
            e.train_loss,
            100.0 * e.test_accuracy,
            e.elapsed.as_secs_f64()
        );
    })
    .map_err(|e| e.to_string())?;
    let accuracy = epochs.last().map_or(0.0, |e| e.test_accuracy);
    let metadata = HashMap::from([
        ("dataset".to_string(), args.dataset.name().to_string()),
        ("epochs".to_string(), config.epochs.to_string()),
        ("seed".to_string(), config.seed.to_string()),
        ("test_accuracy".to_string(), format!("{accuracy:.4}")),
    ]);
    let entries = nn::checkpoint::module_entries(&judge);
    nn::checkpoint::save_entries(&out, &entries, Some(metadata)).map_err(|e| e.to_string())?;
    println!(
        "test accuracy {:.2}% on {} images; {:.1} min in all → {}",
        100.0 * accuracy,
        test_set.len(),
        started.elapsed().as_secs_f64() / 60.0,
        out.display()
    );
    Ok(ExitCode::SUCCESS)
}
