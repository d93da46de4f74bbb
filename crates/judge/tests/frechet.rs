//! The Fréchet distance and the eigen-decomposition under it, against
//! closed forms.

use judge::frechet::{FeatureStats, frechet_distance, trace_sqrt_product};
use judge::linalg::{Matrix, symmetric_eigen};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// A random symmetric `n × n` matrix with entries in [−1, 1].
fn random_symmetric(n: usize, rng: &mut ChaCha8Rng) -> Matrix {
    let mut m = Matrix::zeros(n);
    for i in 0..n {
        for j in 0..=i {
            let v = rng.random_range(-1.0..1.0);
            m.set(i, j, v);
            m.set(j, i, v);
        }
    }
    m
}

/// A random rotation: the eigenvectors of a random symmetric matrix.
fn random_rotation(n: usize, rng: &mut ChaCha8Rng) -> Matrix {
    symmetric_eigen(&random_symmetric(n, rng)).unwrap().vectors
}

/// `r · diag(d) · rᵀ`.
fn conjugate(r: &Matrix, d: &[f64]) -> Matrix {
    r.matmul(&Matrix::diagonal(d))
        .matmul(&r.transpose())
        .symmetrised()
}

fn stats(mean: Vec<f64>, covariance: Matrix) -> FeatureStats {
    FeatureStats {
        count: 1000,
        mean,
        covariance,
    }
}

#[test]
fn eigen_decomposition_reconstructs_with_orthonormal_vectors() {
    let mut rng = ChaCha8Rng::seed_from_u64(1);
    for n in [1, 2, 5, 30, 128] {
        let a = random_symmetric(n, &mut rng);
        let eig = symmetric_eigen(&a).unwrap();
        let back = conjugate(&eig.vectors, &eig.values);
        assert!(
            back.max_abs_diff(&a) < 1e-11,
            "n = {n}: {}",
            back.max_abs_diff(&a)
        );
        let gram = eig.vectors.transpose().matmul(&eig.vectors);
        assert!(gram.max_abs_diff(&Matrix::identity(n)) < 1e-12, "n = {n}");
        assert!(eig.values.windows(2).all(|w| w[0] <= w[1]), "ascending");
        // The trace is the sum of the eigenvalues.
        let sum: f64 = eig.values.iter().sum();
        assert!((sum - a.trace()).abs() < 1e-10);
    }
}

#[test]
fn eigen_decomposition_finds_a_known_spectrum_even_when_repeated() {
    let mut rng = ChaCha8Rng::seed_from_u64(2);
    let spectrum = [-3.0, 0.0, 0.0, 1e-6, 2.0, 2.0, 2.0, 50.0];
    let r = random_rotation(spectrum.len(), &mut rng);
    let eig = symmetric_eigen(&conjugate(&r, &spectrum)).unwrap();
    for (got, want) in eig.values.iter().zip(spectrum) {
        assert!((got - want).abs() < 1e-12 * 50.0, "{:?}", eig.values);
    }
    // A diagonal matrix is its own decomposition; zero converges at once.
    let eig = symmetric_eigen(&Matrix::diagonal(&[3.0, 1.0])).unwrap();
    assert_eq!(eig.values, vec![1.0, 3.0]);
    assert_eq!(symmetric_eigen(&Matrix::zeros(4)).unwrap().values, vec![0.0; 4]);
    let mut bad = Matrix::identity(3);
    bad.set(0, 1, f64::NAN);
    assert!(symmetric_eigen(&bad).is_none());
}

#[test]
fn feature_statistics_match_a_direct_computation() {
    let mut rng = ChaCha8Rng::seed_from_u64(3);
    let (n, d) = (200, 6);
    let x: Vec<f32> = (0..n * d).map(|_| rng.random_range(-2.0..2.0) + 100.0).collect();
    let s = FeatureStats::from_rows(&x, d).unwrap();
    for i in 0..d {
        let mean = (0..n).map(|k| f64::from(x[k * d + i])).sum::<f64>() / n as f64;
        assert!((s.mean[i] - mean).abs() < 1e-9);
        for j in 0..d {
            let mj = (0..n).map(|k| f64::from(x[k * d + j])).sum::<f64>() / n as f64;
            let c = (0..n)
                .map(|k| (f64::from(x[k * d + i]) - mean) * (f64::from(x[k * d + j]) - mj))
                .sum::<f64>()
                / (n - 1) as f64;
            assert!((s.covariance.get(i, j) - c).abs() < 1e-9, "({i}, {j})");
        }
    }
    assert!(
        FeatureStats::from_rows(&x[..d], d).is_none(),
        "one vector has no covariance"
    );
    assert!(
        FeatureStats::from_rows(&x[..d + 1], d).is_none(),
        "not whole rows"
    );
}

#[test]
fn the_distance_of_a_set_to_itself_is_zero() {
    let mut rng = ChaCha8Rng::seed_from_u64(4);
    let x: Vec<f32> = (0..500 * 32).map(|_| rng.random_range(-1.0..3.0)).collect();
    let s = FeatureStats::from_rows(&x, 32).unwrap();
    let fd = frechet_distance(&s, &s).unwrap();
    assert!(fd < 1e-9, "FD(X, X) = {fd}");
    // Rank-deficient covariance (fewer samples than dimensions) too.
    let few = FeatureStats::from_rows(&x[..10 * 32], 32).unwrap();
    assert!(frechet_distance(&few, &few).unwrap() < 1e-9);
}

#[test]
fn shifting_by_delta_adds_its_squared_length() {
    let mut rng = ChaCha8Rng::seed_from_u64(5);
    let d = 16;
    // Multiples of 1/8 with small integer shifts: exact in f32, so both sets
    // have exactly the same covariance.
    let x: Vec<f32> = (0..400 * d)
        .map(|_| rng.random_range(-16..16) as f32 / 8.0)
        .collect();
    let delta: Vec<f32> = (0..d).map(|i| (i % 5) as f32 - 2.0).collect();
    let shifted: Vec<f32> = x.iter().enumerate().map(|(k, v)| v + delta[k % d]).collect();
    let (a, b) = (
        FeatureStats::from_rows(&x, d).unwrap(),
        FeatureStats::from_rows(&shifted, d).unwrap(),
    );
    let expected: f64 = delta.iter().map(|v| f64::from(v * v)).sum();
    let fd = frechet_distance(&a, &b).unwrap();
    assert!((fd - expected).abs() < 1e-9 * expected, "{fd} vs {expected}");
    // And it grows with the shift: twice the shift, four times the distance.
    let twice: Vec<f32> = x
        .iter()
        .enumerate()
        .map(|(k, v)| v + 2.0 * delta[k % d])
        .collect();
    let fd2 = frechet_distance(&a, &FeatureStats::from_rows(&twice, d).unwrap()).unwrap();
    assert!((fd2 - 4.0 * expected).abs() < 1e-9 * expected, "{fd2}");
}

#[test]
fn diagonal_covariances_give_the_sum_of_squared_root_differences() {
    // FD(N(μ₁, diag a), N(μ₂, diag b)) = |μ₁ − μ₂|² + Σ (√aᵢ − √bᵢ)².
    let (a, b) = ([4.0, 1.0, 0.25, 9.0, 0.0], [1.0, 1.0, 4.0, 0.01, 2.0]);
    let (m1, m2) = (vec![0.0, 1.0, 2.0, 3.0, 4.0], vec![1.0, 1.0, 0.0, 3.0, 4.5]);
    let expected: f64 = m1.iter().zip(&m2).map(|(x, y)| (x - y) * (x - y)).sum::<f64>()
        + a.iter()
            .zip(&b)
            .map(|(x, y): (&f64, &f64)| (x.sqrt() - y.sqrt()).powi(2))
            .sum::<f64>();
    let fd = frechet_distance(
        &stats(m1.clone(), Matrix::diagonal(&a)),
        &stats(m2.clone(), Matrix::diagonal(&b)),
    )
    .unwrap();
    assert!((fd - expected).abs() < 1e-12, "{fd} vs {expected}");
    // The same Gaussians seen in a rotated basis: the distance is unchanged.
    let r = random_rotation(5, &mut ChaCha8Rng::seed_from_u64(6));
    let rotate =
        |m: &[f64]| -> Vec<f64> { (0..5).map(|i| (0..5).map(|k| r.get(i, k) * m[k]).sum()).collect() };
    let fd_rotated = frechet_distance(
        &stats(rotate(&m1), conjugate(&r, &a)),
        &stats(rotate(&m2), conjugate(&r, &b)),
    )
    .unwrap();
    // Not to 1e-12 here: in the rotated basis the zero variance becomes an
    // eigenvalue of rounding size, ~1e-16, and √ turns that into ~1e-8 (the
    // square root is ill-conditioned at 0; dead ReLU features make such zero
    // variances real). The diagonal case above has exact zeros.
    assert!((fd_rotated - expected).abs() < 1e-6, "{fd_rotated} vs {expected}");
}

#[test]
fn covariances_that_do_not_commute_match_the_two_by_two_closed_form() {
    // For 2×2 PSD matrices, the square root of a matrix M with eigenvalues
    // λ₁, λ₂ has trace √λ₁ + √λ₂ = √(tr M + 2√det M). With M similar to
    // Σ₁Σ₂: Tr (Σ₁Σ₂)^½ = √(tr(Σ₁Σ₂) + 2√(det Σ₁ · det Σ₂)).
    let s1 = Matrix::diagonal(&[3.0, 0.5]);
    let angle = 0.7f64;
    let (c, s) = (angle.cos(), angle.sin());
    let r = Matrix::from_rows(2, vec![c, -s, s, c]).unwrap();
    let s2 = conjugate(&r, &[2.0, 0.1]);
    let product = s1.matmul(&s2);
    let det = |m: &Matrix| m.get(0, 0) * m.get(1, 1) - m.get(0, 1) * m.get(1, 0);
    let expected_trace = (product.trace() + 2.0 * (det(&s1) * det(&s2)).sqrt()).sqrt();
    let got = trace_sqrt_product(&s1, &s2).unwrap();
    assert!((got - expected_trace).abs() < 1e-12, "{got} vs {expected_trace}");
    let fd = frechet_distance(
        &stats(vec![0.0, 0.0], s1.clone()),
        &stats(vec![1.0, -1.0], s2.clone()),
    )
    .unwrap();
    let expected = 2.0 + s1.trace() + s2.trace() - 2.0 * expected_trace;
    assert!((fd - expected).abs() < 1e-12, "{fd} vs {expected}");
    // It is symmetric in its arguments.
    let back = frechet_distance(&stats(vec![1.0, -1.0], s2), &stats(vec![0.0, 0.0], s1)).unwrap();
    assert!((fd - back).abs() < 1e-12);
}

#[test]
fn sample_distances_approach_the_gaussians_distance() {
    // Two Gaussians, 3 dimensions, sampled: the estimate lands near the truth.
    let mut rng = ChaCha8Rng::seed_from_u64(7);
    let normal = |rng: &mut ChaCha8Rng| -> f64 {
        // Box–Muller.
        let (u, v): (f64, f64) = (rng.random_range(1e-12..1.0), rng.random_range(0.0..1.0));
        (-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos()
    };
    let n = 20_000;
    let (sd_a, sd_b) = ([1.0, 2.0, 0.5], [1.5, 1.0, 0.5]);
    let shift = [1.0, 0.0, -1.0];
    let mut a = Vec::new();
    let mut b = Vec::new();
    for _ in 0..n {
        for i in 0..3 {
            a.push((sd_a[i] * normal(&mut rng)) as f32);
            b.push((shift[i] + sd_b[i] * normal(&mut rng)) as f32);
        }
    }
    let expected: f64 = 2.0 + (0..3).map(|i| (sd_a[i] - sd_b[i]).powi(2)).sum::<f64>();
    let fd = frechet_distance(
        &FeatureStats::from_rows(&a, 3).unwrap(),
        &FeatureStats::from_rows(&b, 3).unwrap(),
    )
    .unwrap();
    assert!((fd - expected).abs() < 0.1, "{fd} vs {expected}");
}
