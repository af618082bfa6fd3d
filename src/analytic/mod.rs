//! The analytic back end (placeholder while the models are assembled).

pub mod ggc;
pub mod mg1;
pub mod mmc;
pub mod mmck;
mod numeric;
