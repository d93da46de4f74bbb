//! `runs::interpolate`: the two paths between latent points. Both start and
//! end at the given points; the spherical path keeps the length of
//! equal-length end points, the straight line does not (its midpoint is
//! about `√(d/2)` long for two Gaussian draws of length `√d`); the walk's
//! layout is row-major.

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use runs::interpolate::{LatentPath, interpolate, path_norms, walk_noise, walk_times};
use tensor::Tensor;

const D: usize = 100;

fn gaussian_pair(seed: u64) -> (Vec<f32>, Vec<f32>) {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let a = Tensor::randn(&[D], 0.0, 1.0, &mut rng).unwrap().to_vec();
    let b = Tensor::randn(&[D], 0.0, 1.0, &mut rng).unwrap().to_vec();
    (a, b)
}

fn norm(v: &[f32]) -> f64 {
    v.iter().map(|&x| f64::from(x).powi(2)).sum::<f64>().sqrt()
}

fn max_diff(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| (x - y).abs()).fold(0.0, f32::max)
}

#[test]
fn both_paths_start_and_end_at_the_given_points() {
    let (a, b) = gaussian_pair(1);
    for path in [LatentPath::Linear, LatentPath::Spherical] {
        assert!(
            max_diff(&interpolate(&a, &b, 0.0, path), &a) < 1e-5,
            "{path:?} at t = 0"
        );
        assert!(
            max_diff(&interpolate(&a, &b, 1.0, path), &b) < 1e-5,
            "{path:?} at t = 1"
        );
    }
    assert_eq!(walk_times(5), vec![0.0, 0.25, 0.5, 0.75, 1.0]);
}

#[test]
fn the_spherical_path_keeps_the_length_and_the_straight_line_cuts_inside() {
    let (a, b) = gaussian_pair(2);
    // Give b a's length, so that the sphere through both is well defined.
    let b: Vec<f32> = b
        .iter()
        .map(|&x| (f64::from(x) * norm(&a) / norm(&b)) as f32)
        .collect();
    let r = norm(&a);
    for (k, length) in path_norms(&a, &b, 11, LatentPath::Spherical).iter().enumerate() {
        assert!(
            (length - r).abs() < 1e-4 * r,
            "spherical point {k}: length {length}, ends {r}"
        );
    }
    let linear = path_norms(&a, &b, 11, LatentPath::Linear);
    // Two random directions in 100 dimensions are nearly orthogonal, so the
    // midpoint of the chord is about r/√2 long.
    let ratio = linear[5] / r;
    assert!(
        (ratio - 0.5f64.sqrt()).abs() < 0.1,
        "the straight line's midpoint is {ratio} of the end length, expected about 0.71"
    );
    assert!(
        linear.iter().all(|&l| l <= r * (1.0 + 1e-6)),
        "a chord never leaves the ball"
    );
}

#[test]
fn parallel_and_zero_end_points_fall_back_to_the_straight_line() {
    let a = vec![1.0, 2.0, 3.0];
    let twice: Vec<f32> = a.iter().map(|x| 2.0 * x).collect();
    let zero = vec![0.0; 3];
    for (x, y) in [(&a, &twice), (&a, &zero)] {
        let s = interpolate(x, y, 0.3, LatentPath::Spherical);
        let l = interpolate(x, y, 0.3, LatentPath::Linear);
        assert!(s.iter().all(|v| v.is_finite()), "no division by sin 0: {s:?}");
        assert!(max_diff(&s, &l) < 1e-6, "{s:?} vs {l:?}");
    }
}

#[test]
fn a_walk_is_laid_out_one_pair_per_row() {
    let starts = Tensor::from_vec(vec![1.0, 0.0, 0.0, 2.0], &[2, 2]).unwrap();
    let ends = Tensor::from_vec(vec![0.0, 1.0, 2.0, 0.0], &[2, 2]).unwrap();
    let z = walk_noise(&starts, &ends, 3, LatentPath::Linear).unwrap();
    assert_eq!(z.shape(), vec![6, 2]);
    assert_eq!(
        z.to_vec(),
        vec![1.0, 0.0, 0.5, 0.5, 0.0, 1.0, 0.0, 2.0, 1.0, 1.0, 2.0, 0.0]
    );
    let wrong = Tensor::from_vec(vec![0.0; 3], &[1, 3]).unwrap();
    let error = walk_noise(&starts, &wrong, 3, LatentPath::Linear).unwrap_err();
    assert!(error.to_string().contains("walk_noise"), "{error}");
}

#[test]
fn path_names_parse_and_unknown_ones_are_refused() {
    for (name, path) in [
        ("linear", LatentPath::Linear),
        ("lerp", LatentPath::Linear),
        ("spherical", LatentPath::Spherical),
        ("slerp", LatentPath::Spherical),
    ] {
        assert_eq!(name.parse::<LatentPath>(), Ok(path));
    }
    let error = "curved".parse::<LatentPath>().unwrap_err();
    assert!(
        error.contains("curved") && error.contains("linear or spherical"),
        "{error}"
    );
}
