//! Pipeline definitions: the TOML files in `pipeline/` an analyst edits. Paths in a
//! definition are relative to the file.

use std::path::{Path, PathBuf};

use anyhow::Context as _;
use serde::Deserialize;

/// A pipeline definition.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Pipeline {
    #[serde(default)]
    pub dates: Dates,
    #[serde(default)]
    pub inputs: Inputs,
    #[serde(default)]
    pub opt_out: OptOut,
    #[serde(default)]
    pub link: Link,
    #[serde(default)]
    pub score: Score,
}

/// Field names are the keys analysts write in `[score]`: each says what it is on its own.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
#[allow(clippy::struct_field_names)]
pub struct Score {
    pub comorbidity_lookback_months: u32,
    pub hfrs_lookback_months: u32,
    pub medicines_lookback_months: u32,
}

impl Default for Score {
    fn default() -> Self {
        Score {
            comorbidity_lookback_months: 60,
            hfrs_lookback_months: 24,
            medicines_lookback_months: 12,
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Link {
    pub lookback_short_months: u32,
    pub lookback_long_months: u32,
    pub outcome_months: u32,
    pub memory_limit_mb: usize,
    pub spill_dir: Option<PathBuf>,
}

impl Default for Link {
    fn default() -> Self {
        Link {
            lookback_short_months: 12,
            lookback_long_months: 24,
            outcome_months: 12,
            memory_limit_mb: 1536,
            spill_dir: None,
        }
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Dates {
    pub reference_date: Option<String>,
    pub extract_date: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Inputs {
    pub extracts: Option<PathBuf>,
    pub postcode_lookup: Option<PathBuf>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OptOut {
    #[serde(default)]
    pub programme_codes: Vec<String>,
    #[serde(default)]
    pub national_data_opt_out: bool,
}

impl Pipeline {
    /// The definition at `path`, or the defaults when no definition is given.
    pub fn load_or_default(path: Option<&Path>) -> anyhow::Result<Self> {
        path.map_or_else(|| Ok(Pipeline::default()), Pipeline::load)
    }

    /// Read a definition; relative paths are resolved against its folder.
    pub fn load(path: &Path) -> anyhow::Result<Self> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read pipeline definition `{}`", path.display()))?;
        let mut p: Pipeline = toml::from_str(&text)
            .with_context(|| format!("pipeline definition `{}` is not valid", path.display()))?;
        let base = path.parent().unwrap_or(Path::new("."));
        for slot in [&mut p.inputs.extracts, &mut p.inputs.postcode_lookup] {
            if let Some(rel) = slot.as_ref().filter(|r| r.is_relative()) {
                *slot = Some(base.join(rel));
            }
        }
        Ok(p)
    }
}
