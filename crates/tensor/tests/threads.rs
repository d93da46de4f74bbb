//! `parallel::with_idle_threads_polling`: the pool's other threads look for
//! work while a step runs. It must not change a single bit, must end when
//! its closure ends (a panic included), and must leave the pool usable.

mod common;

use common::{bits, rng};
use tensor::parallel::with_idle_threads_polling;
use tensor::{Conv2dParams, Tensor};

/// A small training-like pass in f32: a strided convolution with a bias,
/// LeakyReLU, a product, and the gradients of all three inputs, each of
/// them large enough to be split across threads.
fn forward_and_backward() -> Vec<Vec<u32>> {
    let mut r = rng(71);
    let x = Tensor::<f32>::randn(&[32, 16, 14, 14], 0.0, 1.0, &mut r)
        .unwrap()
        .with_requires_grad();
    let w = Tensor::<f32>::randn(&[32, 16, 4, 4], 0.0, 0.1, &mut r)
        .unwrap()
        .with_requires_grad();
    let b = Tensor::<f32>::randn(&[32], 0.0, 0.1, &mut r)
        .unwrap()
        .with_requires_grad();
    let m = Tensor::<f32>::randn(&[32 * 7 * 7, 64], 0.0, 0.1, &mut r).unwrap();
    let y = x
        .conv2d(&w, Some(&b), Conv2dParams::new(2, 1))
        .unwrap()
        .leaky_relu(0.2);
    let flat = y.reshape(&[32, 32 * 7 * 7]).unwrap();
    flat.matmul(&m).unwrap().square().sum().backward().unwrap();
    [y, x.grad().unwrap(), w.grad().unwrap(), b.grad().unwrap()]
        .iter()
        .map(|t| bits(&t.to_vec()))
        .collect()
}

#[test]
fn polling_threads_change_no_bits_and_stop_with_the_closure() {
    let pool = rayon::ThreadPoolBuilder::new().num_threads(2).build().unwrap();
    // `install` runs its closure on one of the pool's threads: the caller
    // `with_idle_threads_polling` needs for the other to poll.
    let plain = pool.install(forward_and_backward);
    for _ in 0..3 {
        let polled = pool.install(|| with_idle_threads_polling(forward_and_backward));
        assert!(polled == plain, "results differ with the other thread polling");
    }
    // From outside any pool it just runs the closure.
    assert_eq!(with_idle_threads_polling(|| 6 * 7), 42);
}

#[test]
fn a_panic_inside_stops_the_polling_and_is_passed_on() {
    let pool = rayon::ThreadPoolBuilder::new().num_threads(2).build().unwrap();
    let caught = pool.install(|| {
        std::panic::catch_unwind(|| {
            with_idle_threads_polling(|| {
                // Some parallel work first, so the other thread is polling.
                let _ = forward_and_backward();
                panic!("inside the step");
            })
        })
    });
    let message = *caught.unwrap_err().downcast::<&str>().unwrap();
    assert_eq!(message, "inside the step");
    // Had the other thread not stopped looking, the scope would still be
    // waiting for it; and the pool still runs a polled step to the bit.
    let plain = pool.install(forward_and_backward);
    assert!(pool.install(|| with_idle_threads_polling(forward_and_backward)) == plain);
}
