//! The one place where core errors become Python exceptions.

use pyo3::exceptions::{PyKeyError, PyNotImplementedError, PyValueError};
use pyo3::PyErr;
use tokenbytes_core::Error;

/// Convert a core error into the Python exception a caller would catch:
/// `KeyError` for ids or byte strings that are not tokens (as tiktoken),
/// `NotImplementedError` for unsupported components, `ValueError` for
/// everything else the input can cause.
pub fn to_py(err: Error) -> PyErr {
    match err {
        Error::UnknownTokenId(id) => {
            PyKeyError::new_err(format!("Invalid token for decoding: {id}"))
        }
        Error::NotAToken(bytes) => PyKeyError::new_err(pyo3::Python::attach(|py| {
            pyo3::types::PyBytes::new(py, &bytes).unbind()
        })),
        Error::DisallowedSpecial { token } => PyValueError::new_err(format!(
            "Encountered text corresponding to disallowed special token {token:?}.\n\
             To encode it as the special token, allow it: `allowed_special={{{token:?}}}` \
             (or `allowed_special=\"all\"`).\n\
             To encode it as ordinary text, exclude it from the check: \
             `disallowed_special=(enc.special_tokens_set - {{{token:?}}})`, \
             or `disallowed_special=()` to disable the check for all special tokens."
        )),
        Error::NotImplemented(msg) => PyNotImplementedError::new_err(msg),
        other => PyValueError::new_err(other.to_string()),
    }
}
