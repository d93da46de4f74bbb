//! `Dropout`: in training, zero each input with probability `p` and scale the
//! rest by `1/(1 − p)` so the expected value is unchanged; in evaluation, the
//! identity. The mask comes from the layer's own seeded RNG, so a run is
//! reproducible.

use crate::module::Module;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use std::sync::Mutex;
use tensor::{Element, Result, Tensor};

/// Inverted dropout with its own seeded RNG.
pub struct Dropout {
    p: f64,
    training: bool,
    rng: Mutex<ChaCha8Rng>,
}

impl Dropout {
    /// Drops each value with probability `p`, drawing masks from an RNG seeded with `seed`.
    pub fn new(p: f64, seed: u64) -> Self {
        Dropout {
            p,
            training: true,
            rng: Mutex::new(ChaCha8Rng::seed_from_u64(seed)),
        }
    }
}

impl<T: Element> Module<T> for Dropout {
    fn forward(&self, input: &Tensor<T>) -> Result<Tensor<T>> {
        if !self.training {
            return Ok(input.clone());
        }
        let mut rng = self.rng.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        input.dropout(T::from_f64(self.p), &mut *rng)
    }

    fn set_training(&mut self, training: bool) {
        self.training = training;
    }
}
