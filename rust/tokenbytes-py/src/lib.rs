//! PyO3 bindings of tokenbytes: argument conversion, GIL release and error
//! mapping only. All algorithms live in `tokenbytes-core`.

mod byteprob;
mod dynamic;
mod encoder;
mod errors;
mod formats;
mod hf;

use pyo3::prelude::*;

/// The private extension module `tokenbytes._core`.
#[pymodule(gil_used = false)]
fn _core(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    m.add_class::<encoder::PyCoreBpe>()?;
    m.add_function(wrap_pyfunction!(encoder::default_threads, m)?)?;
    m.add_function(wrap_pyfunction!(dynamic::dynamic_merge_texts, m)?)?;
    m.add_function(wrap_pyfunction!(dynamic::dynamic_merge_ids, m)?)?;
    hf::register(m)?;
    formats::register(m)?;
    byteprob::register(m)?;
    Ok(())
}
