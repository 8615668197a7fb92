//! Pipeline definitions live in `phm-run`; this re-export keeps the commands' imports short.

use std::collections::BTreeMap;

use phm_reid::PracticeRecipient;
pub use phm_run::Pipeline;

/// The practices' recipients of `[reid.recipients]`, each checked to be an age recipient.
pub fn recipients(p: &Pipeline) -> anyhow::Result<BTreeMap<String, PracticeRecipient>> {
    p.reid
        .recipients
        .iter()
        .map(|(practice, text)| {
            let what = format!("`[reid.recipients] {practice}` of the pipeline definition");
            Ok((practice.clone(), PracticeRecipient::parse(text, &what)?))
        })
        .collect()
}
