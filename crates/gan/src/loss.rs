//! The closed list of losses a run can train with (`--loss`), and the
//! [`Objective`] each one is. Kept apart from `objective.rs` and
//! `wasserstein.rs` so that those two do not import each other: both
//! implement [`Objective`], and only this list knows them both.

use crate::objective::{Objective, StandardLoss, StandardObjective};
use crate::wasserstein::WassersteinObjective;
use std::fmt;
use std::str::FromStr;

/// The losses of the table in `objective.rs`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum LossKind {
    /// Binary cross-entropy on logits; the generator's is non-saturating.
    Bce,
    /// Least squares (Mao et al., 2017).
    Lsgan,
    /// Hinge (Lim & Ye, 2017; used by SAGAN and BigGAN).
    Hinge,
    /// Wasserstein loss with a gradient penalty (Gulrajani et al., 2017).
    /// Named `wgan-gp` on the command line and in `config.json`.
    #[serde(rename = "wgan-gp")]
    WassersteinGp,
}

impl LossKind {
    /// Every loss, in the order `--help` lists them.
    pub const ALL: [LossKind; 4] = [
        LossKind::Bce,
        LossKind::Lsgan,
        LossKind::Hinge,
        LossKind::WassersteinGp,
    ];

    /// The name on the command line.
    pub fn name(self) -> &'static str {
        match self {
            LossKind::Bce => "bce",
            LossKind::Lsgan => "lsgan",
            LossKind::Hinge => "hinge",
            LossKind::WassersteinGp => "wgan-gp",
        }
    }

    /// The objective of this loss; `smoothing` is the one-sided label
    /// smoothing of the losses with targets (`bce`, `lsgan`).
    pub fn objective(self, smoothing: f64) -> Box<dyn Objective> {
        match self {
            LossKind::Bce => Box::new(StandardObjective::new(StandardLoss::Bce, smoothing)),
            LossKind::Lsgan => Box::new(StandardObjective::new(StandardLoss::Lsgan, smoothing)),
            LossKind::Hinge => Box::new(StandardObjective::new(StandardLoss::Hinge, smoothing)),
            LossKind::WassersteinGp => Box::new(WassersteinObjective::default()),
        }
    }

    /// Whether the loss has a target for real images that label smoothing
    /// could lower (`hinge` and `wgan-gp` have none).
    pub fn has_targets(self) -> bool {
        matches!(self, LossKind::Bce | LossKind::Lsgan)
    }
}

impl fmt::Display for LossKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for LossKind {
    type Err = String;

    fn from_str(s: &str) -> std::result::Result<Self, String> {
        LossKind::ALL.into_iter().find(|k| k.name() == s).ok_or_else(|| {
            let names: Vec<&str> = LossKind::ALL.iter().map(|k| k.name()).collect();
            format!("unknown loss `{s}`; expected one of {}", names.join(", "))
        })
    }
}
