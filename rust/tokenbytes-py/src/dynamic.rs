//! Bindings of batch-level dynamic token merging
//! ([`tokenbytes_core::dynamic`]): argument conversion and checks with the
//! GIL held, then one GIL release around encoding and merging.

use numpy::{PyArray1, PyArrayMethods};
use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyInt, PyList, PyTuple};
use std::sync::{Arc, Mutex, Weak};

use tokenbytes_core::dynamic::{max_token_len, merge_ids, merge_texts, Boundary, Merged, StopRule};
use tokenbytes_core::{CoreBpe, Rank};

use crate::encoder::type_name;
use crate::encoder::PyCoreBpe;
use crate::errors::to_py;

fn non_negative(value: Option<i64>, what: &str) -> PyResult<Option<usize>> {
    value
        .map(|v| {
            usize::try_from(v)
                .map_err(|_| PyValueError::new_err(format!("{what} must be >= 0, got {v}")))
        })
        .transpose()
}

fn stop_rule(
    max_merges: Option<i64>,
    target_length: Option<i64>,
    gap_fraction: Option<f64>,
) -> PyResult<StopRule> {
    let stop = StopRule {
        max_merges: non_negative(max_merges, "max_merges")?,
        target_length: non_negative(target_length, "target_length")?,
        gap_fraction,
    };
    stop.validate().map_err(to_py)?;
    Ok(stop)
}

/// `None` means every special token; otherwise an iterable of str.
/// One token-id sequence; errors name `batch[b][j]`.
fn ids_of(item: &Bound<'_, PyAny>, b: usize) -> PyResult<Vec<Rank>> {
    if let Ok(arr) = item.cast::<PyArray1<u32>>() {
        return arr
            .to_vec()
            .map_err(|e| PyValueError::new_err(format!("batch[{b}]: {e}")));
    }
    let conv = |j: usize, x: Bound<'_, PyAny>| -> PyResult<Rank> {
        if !x.is_instance_of::<PyInt>() {
            if let Ok(v) = x.extract::<i64>() {
                // numpy integer scalars and other __index__ types.
                return Rank::try_from(v).map_err(|_| {
                    PyValueError::new_err(format!("batch[{b}][{j}]: token id {v} is out of range"))
                });
            }
            return Err(PyTypeError::new_err(format!(
                "batch[{b}][{j}] must be an int token id, got {}",
                type_name(&x)
            )));
        }
        x.extract::<Rank>().map_err(|_| {
            PyValueError::new_err(format!("batch[{b}][{j}]: token id {x} is out of range"))
        })
    };
    if let Ok(list) = item.cast::<PyList>() {
        return list.iter().enumerate().map(|(j, x)| conv(j, x)).collect();
    }
    if let Ok(tuple) = item.cast::<PyTuple>() {
        return tuple.iter().enumerate().map(|(j, x)| conv(j, x)).collect();
    }
    let it = item.try_iter().map_err(|_| {
        PyTypeError::new_err(format!(
            "batch[{b}] must be a str or a sequence of int token ids, got {}",
            type_name(item)
        ))
    })?;
    it.enumerate().map(|(j, x)| conv(j, x?)).collect()
}

/// The longest token of each live encoder, computed once (O(V)). Keyed by
/// `Weak` so an entry can never be mistaken for a later encoder allocated at
/// the same address (the allocation lives while the `Weak` does).
static MAX_TOKEN_LEN: Mutex<Vec<(Weak<CoreBpe>, usize)>> = Mutex::new(Vec::new());

fn cached_max_token_len(bpe: &Arc<CoreBpe>) -> Option<usize> {
    let mut cache = MAX_TOKEN_LEN.lock().ok()?;
    if let Some((_, n)) = cache
        .iter()
        .find(|(w, _)| std::ptr::eq(w.as_ptr(), Arc::as_ptr(bpe)))
    {
        return Some(*n);
    }
    cache.retain(|(w, _)| w.strong_count() > 0);
    let n = max_token_len(bpe);
    cache.push((Arc::downgrade(bpe), n));
    Some(n)
}

fn i64s(v: &[usize]) -> Vec<i64> {
    v.iter().map(|&x| x as i64).collect()
}

/// The result as a dict of numpy arrays (assembled into `MergedBatch` by
/// `tokenbytes.dynamic`).
fn to_dict<'py>(py: Python<'py>, bpe: &CoreBpe, m: Merged) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    let n_bytes: Vec<i64> = m
        .vocab_parts
        .iter()
        .map(|&r| bpe.token_bytes(r).map_or(0, |b| b.len() as i64))
        .collect();
    d.set_item("vocab_part_n_bytes", PyArray1::from_vec(py, n_bytes))?;
    d.set_item("ids", PyArray1::from_vec(py, m.ids))?;
    d.set_item("seq_starts", PyArray1::from_vec(py, i64s(&m.seq_starts)))?;
    let spans: Vec<i64> = m.spans.iter().map(|&x| i64::from(x)).collect();
    d.set_item("spans", PyArray1::from_vec(py, spans))?;
    d.set_item("vocab_parts", PyArray1::from_vec(py, m.vocab_parts))?;
    d.set_item(
        "vocab_starts",
        PyArray1::from_vec(py, i64s(&m.vocab_starts)),
    )?;
    d.set_item("merge_left", PyArray1::from_vec(py, m.merge_left))?;
    d.set_item("merge_right", PyArray1::from_vec(py, m.merge_right))?;
    d.set_item("token_left", PyArray1::from_vec(py, m.token_left))?;
    d.set_item("token_right", PyArray1::from_vec(py, m.token_right))?;
    let counts: Vec<i64> = m.merge_counts.iter().map(|&x| i64::from(x)).collect();
    d.set_item("merge_counts", PyArray1::from_vec(py, counts))?;
    d.set_item(
        "lengths_before",
        PyArray1::from_vec(py, i64s(&m.lengths_before)),
    )?;
    d.set_item(
        "lengths_after",
        PyArray1::from_vec(py, i64s(&m.lengths_after)),
    )?;
    d.set_item("word_level_length", m.word_level_length)?;
    Ok(d)
}

/// Encode `texts` and merge the batch (see `tokenbytes.dynamic.merge_batch`).
#[pyfunction]
#[pyo3(signature = (core, texts, boundary, max_merges, target_length, gap_fraction, allowed_special, disallowed_special))]
#[allow(clippy::too_many_arguments)]
pub fn dynamic_merge_texts<'py>(
    py: Python<'py>,
    core: &Bound<'py, PyCoreBpe>,
    texts: &Bound<'py, PyAny>,
    boundary: &str,
    max_merges: Option<i64>,
    target_length: Option<i64>,
    gap_fraction: Option<f64>,
    allowed_special: &Bound<'py, PyAny>,
    disallowed_special: &Bound<'py, PyAny>,
) -> PyResult<Bound<'py, PyDict>> {
    let mode = Boundary::parse(boundary).map_err(to_py)?;
    let stop = stop_rule(max_merges, target_length, gap_fraction)?;
    let policy = crate::encoder::policy(allowed_special, disallowed_special)?;
    let owned = crate::encoder::strings_of(texts)?;
    let cows = crate::encoder::texts_of(&owned)?;
    let strs: Vec<&str> = cows.iter().map(AsRef::as_ref).collect();
    let bpe = &core.get().inner;
    let merged = py
        .detach(|| merge_texts(bpe, &strs, &policy, mode, &stop, cached_max_token_len(bpe)))
        .map_err(to_py)?;
    to_dict(py, bpe, merged)
}

/// Merge a batch of token-id sequences (see
/// `tokenbytes.dynamic.merge_batch`).
#[pyfunction]
#[pyo3(signature = (core, batch, boundary, max_merges, target_length, gap_fraction))]
pub fn dynamic_merge_ids<'py>(
    py: Python<'py>,
    core: &Bound<'py, PyCoreBpe>,
    batch: &Bound<'py, PyAny>,
    boundary: &str,
    max_merges: Option<i64>,
    target_length: Option<i64>,
    gap_fraction: Option<f64>,
) -> PyResult<Bound<'py, PyDict>> {
    let mode = Boundary::parse(boundary).map_err(to_py)?;
    let stop = stop_rule(max_merges, target_length, gap_fraction)?;
    let seqs: Vec<Vec<Rank>> = batch
        .try_iter()
        .map_err(|_| {
            PyTypeError::new_err(format!("batch must be a list, got {}", type_name(batch)))
        })?
        .enumerate()
        .map(|(b, item)| ids_of(&item?, b))
        .collect::<PyResult<_>>()?;
    let bpe = &core.get().inner;
    let merged = py
        .detach(|| merge_ids(bpe, &seqs, mode, &stop, cached_max_token_len(bpe)))
        .map_err(to_py)?;
    to_dict(py, bpe, merged)
}
