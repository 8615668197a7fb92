//! ICD-10 codes as feeds write them, made comparable: [`phm_contract::icd10`], the one
//! normalisation ingest writes to the pseudonymised zone and the scores read.

pub use phm_contract::icd10::{Icd10, normalise};
