//! The writers: they read [`crate::results`] (and the command results of `size`, `sweep`
//! and `validate`) and turn them into bytes or strings, one file per format — terminal
//! tables ([`table`]), tidy CSV ([`csv`]), JSON ([`json`]), `report.md` ([`markdown`]),
//! chart descriptions ([`figures`]) and their rendering ([`charts`]), the data behind the charts
//! ([`export`]: percentile curves, `.hgrm` distributions, time series) — plus the three-way
//! comparison ([`compare`]). Only the CLI writes files or prints.

pub mod charts;
pub mod compare;
pub mod csv;
pub mod export;
pub mod figures;
pub mod headline;
pub mod html;
pub mod json;
pub mod markdown;
pub mod table;
pub mod topic;
pub mod warnings;

#[cfg(test)]
mod tests;
