//! Extract contracts, the NHS number type and quarantine reason codes.
//!
//! `phm-contract` owns what every other crate agrees on about incoming data: the contract of
//! each extract (loaded from `schemas/`), the [`NhsNumber`] type with Modulus 11 validation,
//! the closed list of quarantine [`Reason`]s, strict parsing of the dates contracts allow, and
//! the forms of clinical codes ([`icd10`] normalisation, [`snomed`] check digits). It reads no extract and writes nothing.

mod contract;
pub mod date;
pub mod icd10;
pub mod nhs;
mod reason;
pub mod snomed;

pub use contract::{
    Column, ColumnType, Contract, ContractError, Contracts, DATE_FORMATS, Encoding, Generalise,
    PrivacyRole, SubmitterKind,
};
pub use nhs::{NhsNumber, NhsNumberError};
pub use reason::{Reason, UnknownReason};
