//! Integration tests of `phm-contract`.

mod nhs_oracle;
