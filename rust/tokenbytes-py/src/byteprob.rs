//! Bindings of `tokenbytes_core::byteprob`.

use pyo3::prelude::*;

/// Add this file's classes and functions to `_core`.
pub fn register(_m: &Bound<'_, PyModule>) -> PyResult<()> {
    Ok(())
}
