//! What lives on disk below the output folder: the one place that creates,
//! opens, renames and deletes files ([`store`], no link followed, only
//! regular files), a job's spool of saved segments and the ledger that
//! lists them, a segment's part on its way in, the job and output locks,
//! a job's last failure, and atomic writes. Knows files, not HTTP.

pub mod atomic;
mod failed;
mod ledger;
pub mod lock;
pub mod part;
pub mod sealed;
pub mod spool;
pub mod store;

pub use failed::{read_failed, remove_failed, write_failed, Failed, FAILED_MAX};
pub use ledger::{
    all_merged, clear_merged, clear_segments, export, has_segments, listed_indices, read_done,
    remove_done, saved_at, write_done, Done, Ledger, OpenError, PathOf,
};
pub use part::stores_settled;
pub use spool::Saved;
