//! The star schema side: the pure [`transform`] from changes to warehouse rows, the [`sink`]
//! that writes them, type 2 [`product`] history, and reconciliation ([`verify`]).

pub mod product;
pub mod rows;
pub mod sink;
pub mod transform;
pub mod verify;
