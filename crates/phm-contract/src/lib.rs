//! Extract contracts, the NHS number type and quarantine reason codes.
//!
//! `phm-contract` owns what every other crate agrees on about incoming data: the contract of
//! each extract (loaded from `schemas/`), the [`NhsNumber`] type with Modulus 11 validation,
//! the closed list of quarantine [`Reason`]s, and strict parsing of the dates contracts allow. It reads no extract and writes nothing.

mod contract;
pub mod date;
pub mod nhs;
mod reason;

pub use contract::{
    Column, ColumnType, Contract, ContractError, Contracts, DATE_FORMATS, Encoding, Generalise,
    PrivacyRole, SubmitterKind,
};
pub use nhs::{NhsNumber, NhsNumberError};
pub use reason::{Reason, UnknownReason};
