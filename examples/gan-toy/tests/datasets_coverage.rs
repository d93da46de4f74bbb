//! The data sets have the modes and shapes they claim, and the coverage
//! numbers count what they say they count.

use gan_toy::coverage::{mode_coverage, nearest_distances};
use gan_toy::datasets::{SIGMA, Toy, VIEW};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

#[test]
fn mixtures_have_their_modes_and_samples_lie_near_them() {
    let ring = Toy::Ring8.modes().expect("ring8 is a mixture");
    assert_eq!(ring.len(), 8);
    for c in &ring {
        assert!(
            (c[0].hypot(c[1]) - 2.0).abs() < 1e-5,
            "ring mode {c:?} is not at radius 2"
        );
    }
    let grid = Toy::Grid25.modes().expect("grid25 is a mixture");
    assert_eq!(grid.len(), 25);
    assert!(grid.contains(&[-2.0, -2.0]) && grid.contains(&[2.0, 2.0]) && grid.contains(&[0.0, 0.0]));
    assert!(Toy::Moons.modes().is_none() && Toy::Spiral.modes().is_none());

    for toy in [Toy::Ring8, Toy::Grid25] {
        let points = toy.sample(4000, &mut ChaCha8Rng::seed_from_u64(1));
        let coverage = mode_coverage(&points, &toy.modes().unwrap_or_default());
        // Within 3σ of a 2-D Gaussian: 1 − e^{−4.5} ≈ 98.9% of the points.
        assert!(
            (coverage.high_quality - 0.989).abs() < 0.01,
            "{toy}: {} of real points within 3σ",
            coverage.high_quality
        );
        assert_eq!(
            coverage.covered,
            coverage.counts.len(),
            "{toy}: real data must cover every mode"
        );
    }
}

#[test]
fn every_data_set_is_seeded_and_inside_the_view() {
    for toy in [Toy::Ring8, Toy::Grid25, Toy::Moons, Toy::Spiral] {
        let a = toy.sample(1000, &mut ChaCha8Rng::seed_from_u64(7));
        let b = toy.sample(1000, &mut ChaCha8Rng::seed_from_u64(7));
        let c = toy.sample(1000, &mut ChaCha8Rng::seed_from_u64(8));
        assert_eq!(a, b, "{toy}: same seed, same points");
        assert_ne!(a, c, "{toy}: another seed, other points");
        assert_eq!(a.len(), 1000);
        for p in &a {
            assert!(
                p[0].abs() < VIEW && p[1].abs() < VIEW,
                "{toy}: {p:?} outside the view"
            );
        }
        // Not a degenerate cloud: the points spread over more than a unit.
        let spread = a.iter().map(|p| p[0]).fold(f32::NEG_INFINITY, f32::max)
            - a.iter().map(|p| p[0]).fold(f32::INFINITY, f32::min);
        assert!(spread > 2.0, "{toy}: x spans only {spread}");
    }
}

#[test]
fn moons_are_two_curves_and_the_spiral_winds_outwards() {
    let moons = Toy::Moons.sample(2000, &mut ChaCha8Rng::seed_from_u64(3));
    // The upper moon's points sit above the lower moon's on average.
    let upper = moons.iter().filter(|p| p[1] > 0.0).count();
    assert!(
        (700..1300).contains(&upper),
        "{upper} of 2000 moon points above y = 0"
    );
    let spiral = Toy::Spiral.sample(2000, &mut ChaCha8Rng::seed_from_u64(3));
    let max_r = spiral.iter().map(|p| p[0].hypot(p[1])).fold(0.0, f32::max);
    assert!((2.1..2.5).contains(&max_r), "spiral reaches radius {max_r}");
}

#[test]
fn coverage_counts_modes_and_quality() {
    let modes = Toy::Ring8.modes().unwrap_or_default();
    // 100 points on each of three modes, 100 far from every mode.
    let mut points = Vec::new();
    for c in &modes[..3] {
        points.extend(std::iter::repeat_n(*c, 100));
    }
    points.extend(std::iter::repeat_n([0.0, 0.0], 100));
    let coverage = mode_coverage(&points, &modes);
    assert_eq!(coverage.covered, 3);
    assert_eq!(coverage.counts, vec![100, 100, 100, 0, 0, 0, 0, 0]);
    assert!((coverage.high_quality - 0.75).abs() < 1e-12);
    // A point just outside 3σ does not count; just inside does.
    let edge = |r: f32| mode_coverage(&[[2.0 + r, 0.0]], &modes).counts[0];
    assert_eq!(edge(2.9 * SIGMA), 1);
    assert_eq!(edge(3.1 * SIGMA), 0);

    let d = nearest_distances(&[[0.0, 0.0]], &[[3.0, 4.0], [0.0, 1.0]]);
    assert!((d.fake_to_real - 1.0).abs() < 1e-9);
    assert!((d.real_to_fake - 3.0).abs() < 1e-9, "mean of 5 and 1");
}
