//! Bindings of the BPE encoder ([`tokenbytes_core::CoreBpe`]).

use std::borrow::Cow;
use std::sync::Arc;

use numpy::{PyArray1, PyArrayMethods, PyUntypedArrayMethods};
use pyo3::exceptions::{PyTypeError, PyUnicodeEncodeError, PyValueError};
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyBytes, PyDict, PyList, PySet, PyString};
use rustc_hash::FxHashSet;
use tokenbytes_core::special::{Selection, SpecialPolicy, SpecialTokens};
use tokenbytes_core::vocab::Vocab;
use tokenbytes_core::{pretokenize::PreTokenizer, CoreBpe, Rank};

use crate::errors::to_py;

/// Inputs shorter than this many bytes are processed without releasing the
/// GIL: the release costs more than the work.
const DETACH_MIN_BYTES: usize = 4096;

/// Run `f`, releasing the GIL when the input is large enough to matter.
fn run<T: Send>(
    py: Python<'_>,
    n_bytes: usize,
    f: impl FnOnce() -> tokenbytes_core::Result<T> + Send,
) -> PyResult<T> {
    if n_bytes < DETACH_MIN_BYTES {
        f().map_err(to_py)
    } else {
        py.detach(f).map_err(to_py)
    }
}

/// A value handed over once from one thread to another: set by a worker,
/// taken by the caller once [`Slot::is_ready`] says it is there.
struct Slot<T> {
    ready: std::sync::atomic::AtomicBool,
    value: std::sync::Mutex<Option<T>>,
}

impl<T> Default for Slot<T> {
    fn default() -> Self {
        Self {
            ready: std::sync::atomic::AtomicBool::new(false),
            value: std::sync::Mutex::new(None),
        }
    }
}

impl<T> Slot<T> {
    fn set(&self, value: T) {
        *self
            .value
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(value);
        self.ready.store(true, std::sync::atomic::Ordering::Release);
    }

    fn is_ready(&self) -> bool {
        self.ready.load(std::sync::atomic::Ordering::Acquire)
    }

    fn take(&self) -> Option<T> {
        self.value
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .take()
    }
}

/// Batches smaller than this (in bytes) are encoded on the calling thread
/// alone: starting helpers costs more than it saves.
const PARALLEL_MIN_BYTES: usize = 64 << 10;

/// Encode `texts` with `f` on `threads` threads and return a list of lists,
/// in input order.
///
/// The calling thread is one of the `threads`: `threads - 1` pool workers
/// take texts in order from a shared counter and store their ids; the
/// calling thread builds the Python list of the next text as soon as its
/// ids are ready (that needs the GIL) and otherwise encodes texts itself
/// with the GIL released. So no core sits idle while lists are built, and
/// no more than `threads` threads compete for the cores. The first error in
/// input order is raised.
fn batch_to_lists<'py>(
    py: Python<'py>,
    ints: &IdInts,
    texts: &[&str],
    threads: usize,
    f: impl Fn(&str, &mut Vec<Rank>) -> tokenbytes_core::Result<()> + Sync,
) -> PyResult<Bound<'py, PyList>> {
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
    let n = texts.len();
    let out = PyList::empty(py);
    let total: usize = texts.iter().map(|t| t.len()).sum();
    if threads <= 1 || n < 2 || total < PARALLEL_MIN_BYTES {
        let mut ids = Vec::new();
        for t in texts {
            ids.clear();
            run(py, t.len(), || f(t, &mut ids))?;
            out.append(ints.list(py, &ids)?)?;
        }
        return Ok(out);
    }
    let pool = tokenbytes_core::parallel::pool(threads - 1).map_err(to_py)?;
    let slots: Vec<Slot<tokenbytes_core::Result<Vec<Rank>>>> =
        (0..n).map(|_| Slot::default()).collect();
    // Texts are claimed in input order, except that large ones (an eighth
    // of a thread's share or more) go first, largest first: a large text
    // claimed last would leave the other threads idle at the end.
    let large = total / (8 * threads);
    let mut order: Vec<usize> = (0..n).filter(|&i| texts[i].len() >= large).collect();
    order.sort_by_key(|&i| std::cmp::Reverse(texts[i].len()));
    order.extend((0..n).filter(|&i| texts[i].len() < large));
    let next = AtomicUsize::new(0);
    let stop = AtomicBool::new(false);
    // A panic in `f` (a bug) is re-raised on this thread, where PyO3 turns
    // it into an exception; its slot gets an error so nobody waits on it.
    let panic = std::sync::Mutex::new(None);
    // Id buffers go round: a text's ids are encoded into a spare buffer and
    // the buffer comes back once its list is built. Buffers kept to the end
    // of the call, or freed and allocated anew, would take fresh pages from
    // the allocator again and again, and page faults taken while another
    // thread of the process runs cost several times more than alone.
    let spare: std::sync::Mutex<Vec<Vec<Rank>>> = std::sync::Mutex::new(Vec::new());
    // Claim the next unclaimed text and encode it; false when none is left.
    let work = || -> bool {
        if stop.load(Ordering::Relaxed) {
            return false;
        }
        let Some(&i) = order.get(next.fetch_add(1, Ordering::Relaxed)) else {
            return false;
        };
        let text = texts[i];
        let mut ids = spare
            .lock()
            .ok()
            .and_then(|mut s| s.pop())
            .unwrap_or_default();
        ids.reserve(text.len() / 3 + 1);
        let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            f(text, &mut ids).map(|()| ids)
        }))
        .unwrap_or_else(|payload| {
            if let Ok(mut p) = panic.lock() {
                p.get_or_insert(payload);
            }
            Err(tokenbytes_core::Error::InvalidArgument(
                "internal error: the encoder panicked".into(),
            ))
        });
        // An error does not stop the others: texts before it in input order
        // may not be claimed yet, and the caller raises it when it gets
        // there (then everyone stops).
        slots[i].set(r);
        true
    };
    pool.in_place_scope(|scope| {
        for _ in 0..threads - 1 {
            scope.spawn(|_| while work() {});
        }
        let result = (|| -> PyResult<()> {
            for (i, slot) in slots.iter().enumerate() {
                if !slot.is_ready() {
                    py.detach(|| {
                        while !slot.is_ready() {
                            // Help while this text is being encoded
                            // elsewhere; once everything is claimed, wait.
                            if !work() {
                                std::thread::yield_now();
                            }
                        }
                    });
                }
                match slot.take() {
                    Some(Ok(mut ids)) => {
                        out.append(ints.list(py, &ids)?)?;
                        ids.clear();
                        if let Ok(mut s) = spare.lock() {
                            s.push(ids);
                        }
                    }
                    Some(Err(e)) => {
                        if let Some(payload) = panic.lock().ok().and_then(|mut p| p.take()) {
                            std::panic::resume_unwind(payload);
                        }
                        return Err(to_py(e));
                    }
                    None => {
                        return Err(pyo3::exceptions::PyRuntimeError::new_err(format!(
                            "internal error: batch item {i} was not encoded"
                        )))
                    }
                }
            }
            Ok(())
        })();
        // On an early return, let the workers stop taking texts.
        stop.store(true, Ordering::Relaxed);
        result
    })?;
    Ok(out)
}

/// Token ids below this get a shared Python `int` (see [`IdInts`]); larger
/// ids (huge special-token ids) get a new one each time.
const MAX_SHARED_ID: usize = 1 << 21;

/// Lists shorter than this are built from new ints until the shared ints
/// exist (creating all of them takes a few milliseconds).
const SHARED_INTS_MIN_LIST: usize = 1024;

/// How many ids ahead [`IdInts::list`] prefetches a shared int.
const PREFETCH_AHEAD: usize = 8;

/// The Python `int` of every token id, shared by all the lists an encoder
/// returns (Python ints are immutable; CPython shares its small ints the
/// same way). Building a list then costs a reference-count increment per id
/// instead of an allocation. They are created all at once, in id order, the
/// first time a long list is built: allocated one after the other, the ints
/// of frequent tokens (low ranks) sit close together in memory.
pub(crate) struct IdInts {
    ints: PyOnceLock<Box<[Py<PyAny>]>>,
    bound: usize,
}

impl IdInts {
    /// Ints for ids below `bound` (capped at [`MAX_SHARED_ID`]).
    pub(crate) fn new(bound: usize) -> Self {
        Self {
            ints: PyOnceLock::new(),
            bound: bound.min(MAX_SHARED_ID),
        }
    }

    /// A new Python int equal to `id`.
    #[inline]
    fn fresh<'py>(py: Python<'py>, id: Rank) -> Bound<'py, PyAny> {
        let Ok(int) = id.into_pyobject(py);
        int.into_any()
    }

    /// A new `list[int]` of `ids`.
    pub(crate) fn list<'py>(&self, py: Python<'py>, ids: &[Rank]) -> PyResult<Bound<'py, PyList>> {
        let shared = match self.ints.get(py) {
            Some(ints) => Some(ints),
            None if ids.len() >= SHARED_INTS_MIN_LIST => Some(self.ints.get_or_init(py, || {
                (0..self.bound)
                    .map(|id| Self::fresh(py, id as Rank).unbind())
                    .collect()
            })),
            None => None,
        };
        match shared {
            // The ints of a long list are spread over several MB: each one
            // is prefetched a few ids ahead (its slot in `ints` further
            // ahead), so that the misses of the reference-count increments
            // overlap.
            Some(ints) => new_list(
                py,
                ids.iter().enumerate().map(|(i, &id)| {
                    if let Some(&far) = ids.get(i + 2 * PREFETCH_AHEAD) {
                        tokenbytes_core::prefetch(ints.as_ptr().wrapping_add(far as usize));
                    }
                    if let Some(int) = ids
                        .get(i + PREFETCH_AHEAD)
                        .and_then(|&near| ints.get(near as usize))
                    {
                        tokenbytes_core::prefetch(int.as_ptr());
                    }
                    match ints.get(id as usize) {
                        Some(int) => int.bind(py).clone(),
                        None => Self::fresh(py, id),
                    }
                }),
            ),
            None => new_list(py, ids.iter().map(|&id| Self::fresh(py, id))),
        }
    }
}

/// Whether this interpreter lays out a `list` as CPython does (`ob_item`,
/// the item array, right after the variable-size object header), checked
/// once on a list built through the stable API.
fn list_layout_known(py: Python<'_>) -> bool {
    static KNOWN: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *KNOWN.get_or_init(|| {
        let probe = [
            py.None(),
            pyo3::types::PyTuple::empty(py).into_any().unbind(),
        ];
        let Ok(list) = PyList::new(py, probe.iter().map(|o| o.bind(py))) else {
            return false;
        };
        let obj = list.as_ptr().cast::<usize>();
        // SAFETY: every list object is at least a variable-size header and
        // two words (CPython: item pointer and allocated count), so the
        // five words read are inside the object; the item pointer is
        // followed only when the size and allocation words hold what the
        // stable API says the list holds.
        unsafe {
            if obj.add(2).read() != 2 || obj.add(4).read() < 2 {
                return false;
            }
            let items = obj.add(3).read() as *const *mut pyo3::ffi::PyObject;
            !items.is_null()
                && items.read() == probe[0].as_ptr()
                && items.add(1).read() == probe[1].as_ptr()
        }
    })
}

/// A new list of `items`.
///
/// The stable API's `PyList_SetItem` reads each slot before writing it, so
/// the item array of a new long list, fresh zeroed pages from the
/// allocator, is first mapped to the shared zero page and then copied on
/// the write: two page faults a page, and the second needs a TLB flush on
/// every core running another thread of the process (batch workers),
/// which on a virtual machine costs several microseconds. Where the
/// interpreter's list layout is the known one, the items are written
/// straight into the array instead, as CPython's own `PyList_SET_ITEM`
/// does.
fn new_list<'py>(
    py: Python<'py>,
    items: impl ExactSizeIterator<Item = Bound<'py, PyAny>>,
) -> PyResult<Bound<'py, PyList>> {
    let len = items.len();
    if len < DIRECT_LIST_MIN || !list_layout_known(py) {
        return PyList::new(py, items);
    }
    let n = pyo3::ffi::Py_ssize_t::try_from(len)
        .map_err(|_| pyo3::exceptions::PyOverflowError::new_err("list too long"))?;
    // SAFETY: PyList_New returns a new reference or null with an exception
    // set; the layout check above makes `ob_item` the word after the
    // header, an array of `len` null slots, each written once below with a
    // new reference (the list steals it), before the list is shared.
    unsafe {
        let list = pyo3::ffi::PyList_New(n);
        let list = Bound::from_owned_ptr_or_err(py, list)?.cast_into_unchecked::<PyList>();
        let slots = list.as_ptr().cast::<usize>().add(3).read() as *mut *mut pyo3::ffi::PyObject;
        let mut written = 0;
        for item in items.take(len) {
            slots.add(written).write(item.into_ptr());
            written += 1;
        }
        assert_eq!(written, len, "new_list: the iterator yielded too few items");
        Ok(list)
    }
}

/// Lists shorter than this are built through the stable API: their arrays
/// come from memory the allocator has already touched.
const DIRECT_LIST_MIN: usize = 1024;

/// The compiled encoder shared by every Python `Encoding` built from it.
/// Immutable, so safe to use from any number of threads at once.
#[pyclass(frozen, module = "tokenbytes._core", name = "CoreBpe")]
pub struct PyCoreBpe {
    pub inner: Arc<CoreBpe>,
    ints: IdInts,
}

impl PyCoreBpe {
    fn wrap(bpe: CoreBpe) -> Self {
        let top = bpe.specials().iter().map(|(_, r)| r).max().unwrap_or(0);
        let bound = (bpe.vocab().rank_bound() as usize).max(top as usize + 1);
        Self {
            inner: Arc::new(bpe),
            ints: IdInts::new(bound),
        }
    }
}

fn build(vocab: Vocab, specials: Vec<(String, Rank)>, pattern: &str) -> PyResult<CoreBpe> {
    let specials = SpecialTokens::new(specials).map_err(to_py)?;
    let pretok = PreTokenizer::new(pattern).map_err(to_py)?;
    CoreBpe::new(vocab, specials, pretok).map_err(to_py)
}

fn rank_of(value: &Bound<'_, PyAny>, what: &str) -> PyResult<Rank> {
    let v: i64 = value.extract().map_err(|_| {
        PyTypeError::new_err(format!("{what} must be an int, got {}", type_name(value)))
    })?;
    if !(0..i64::from(tokenbytes_core::vocab::MAX_TOKEN_ID)).contains(&v) {
        return Err(PyValueError::new_err(format!(
            "{what} {v} is out of range (0..{})",
            tokenbytes_core::vocab::MAX_TOKEN_ID
        )));
    }
    Ok(v as Rank)
}

/// The Python type name of `obj`, for error messages.
pub(crate) fn type_name(obj: &Bound<'_, PyAny>) -> String {
    obj.get_type()
        .name()
        .map_or_else(|_| "?".to_owned(), |n| n.to_string())
}

fn specials_from_dict(d: &Bound<'_, PyDict>) -> PyResult<Vec<(String, Rank)>> {
    let mut out = Vec::with_capacity(d.len());
    for (k, v) in d.iter() {
        let name: String = k.extract().map_err(|_| {
            PyTypeError::new_err(format!(
                "special token names must be str, got {}",
                type_name(&k)
            ))
        })?;
        out.push((name, rank_of(&v, "special token id")?));
    }
    Ok(out)
}

/// Whether the `numpy` module has been imported in this interpreter.
fn numpy_loaded(py: Python<'_>) -> bool {
    py.import("sys")
        .and_then(|sys| sys.getattr("modules"))
        .and_then(|m| m.contains("numpy"))
        .unwrap_or(true)
}

/// Token ids from any iterable of ints (list fast path). Ids that are not
/// ints raise `TypeError`; negative or huge ids raise `KeyError` like any
/// other unknown id (as tiktoken's decode does).
fn ids_from(obj: &Bound<'_, PyAny>) -> PyResult<Vec<Rank>> {
    // Looking for a numpy array imports numpy, so look only when numpy is
    // loaded (an array cannot exist otherwise) and the object is no list.
    let maybe_array = !obj.is_instance_of::<PyList>() && numpy_loaded(obj.py());
    if let Some(arr) = maybe_array
        .then(|| obj.cast::<PyArray1<u32>>().ok())
        .flatten()
    {
        return Ok(arr
            .readonly()
            .as_slice()
            .map_or_else(|_| arr.to_vec().unwrap_or_default(), <[u32]>::to_vec));
    }
    if obj.is_instance_of::<PyString>()
        || obj.is_instance_of::<PyBytes>()
        || obj.is_instance_of::<PyDict>()
        || obj.is_instance_of::<PySet>()
    {
        return Err(PyTypeError::new_err(format!(
            "token ids must be a sequence of ints, got {}",
            type_name(obj)
        )));
    }
    let conv = |item: Bound<'_, PyAny>| -> PyResult<Rank> {
        match item.extract::<i64>() {
            Ok(v) if (0..=i64::from(u32::MAX)).contains(&v) => Ok(v as Rank),
            Ok(v) => Err(pyo3::exceptions::PyKeyError::new_err(format!(
                "Invalid token for decoding: {v}"
            ))),
            Err(_) if item.is_instance_of::<pyo3::types::PyInt>() => {
                Err(pyo3::exceptions::PyKeyError::new_err(format!(
                    "Invalid token for decoding: {item}"
                )))
            }
            Err(_) => Err(PyTypeError::new_err(format!(
                "token ids must be ints, got {}",
                type_name(&item)
            ))),
        }
    };
    if let Ok(list) = obj.cast::<PyList>() {
        let mut out = Vec::with_capacity(list.len());
        for item in list.iter() {
            out.push(conv(item)?);
        }
        return Ok(out);
    }
    let it = obj.try_iter().map_err(|_| {
        PyTypeError::new_err(format!(
            "token ids must be a sequence of ints, got {}",
            type_name(obj)
        ))
    })?;
    let mut out = Vec::new();
    for item in it {
        out.push(conv(item?)?);
    }
    Ok(out)
}

/// The `str` items of a batch (`TypeError` naming the first bad item).
pub(crate) fn strings_of<'py>(texts: &Bound<'py, PyAny>) -> PyResult<Vec<Bound<'py, PyString>>> {
    if texts.is_instance_of::<PyString>() {
        return Err(PyTypeError::new_err(
            "batch must be a list of str, got a single str",
        ));
    }
    let it = texts.try_iter().map_err(|_| {
        PyTypeError::new_err(format!(
            "batch must be a list of str, got {}",
            type_name(texts)
        ))
    })?;
    it.enumerate()
        .map(|(i, item)| {
            item?.cast_into::<PyString>().map_err(|e| {
                PyTypeError::new_err(format!(
                    "batch[{i}] must be a str, got {}",
                    type_name(e.into_inner().as_any())
                ))
            })
        })
        .collect()
}

/// The UTF-8 text of a Python `str`. A `str` that is not valid Unicode
/// text (UTF-16 surrogates, as PDF extraction or `surrogateescape` leave
/// them) is repaired as tiktoken does: surrogate pairs are joined into their
/// code point and lone surrogates become U+FFFD. Never an exception for a
/// `str`.
pub(crate) fn text_of<'a>(s: &'a Bound<'_, PyString>) -> PyResult<Cow<'a, str>> {
    match s.to_str() {
        Ok(t) => Ok(Cow::Borrowed(t)),
        Err(e) if e.is_instance_of::<PyUnicodeEncodeError>(s.py()) => {
            let fixed = s
                .call_method1("encode", ("utf-16", "surrogatepass"))?
                .call_method1("decode", ("utf-16", "replace"))?;
            Ok(Cow::Owned(fixed.extract::<String>()?))
        }
        Err(e) => Err(e),
    }
}

/// [`text_of`] of every string of a batch.
pub(crate) fn texts_of<'a>(owned: &'a [Bound<'_, PyString>]) -> PyResult<Vec<Cow<'a, str>>> {
    owned.iter().map(text_of).collect()
}

/// Which special-token argument is being read: they differ on `None` and
/// on falsy values, as in tiktoken.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Arg {
    Allowed,
    Disallowed,
}

/// tiktoken's special-token arguments: the string `"all"` means every
/// special token; otherwise a collection of strings. For
/// `disallowed_special`, `None` and empty values mean "check nothing"
/// (tiktoken skips the check when the argument is falsy); for
/// `allowed_special`, `None` is a `TypeError`.
fn selection(obj: &Bound<'_, PyAny>, arg: Arg) -> PyResult<Selection> {
    let what = match arg {
        Arg::Allowed => "allowed_special",
        Arg::Disallowed => "disallowed_special",
    };
    let bad = |got: &str| {
        PyTypeError::new_err(format!(
            "{what} must be \"all\" or a collection of str, got {got}"
        ))
    };
    if obj.is_none() {
        return match arg {
            Arg::Disallowed => Ok(Selection::none()),
            Arg::Allowed => Err(bad("None")),
        };
    }
    if let Ok(s) = obj.cast::<PyString>() {
        let s = s.to_str()?;
        return match (s, arg) {
            ("all", _) => Ok(Selection::All),
            ("", Arg::Disallowed) => Ok(Selection::none()),
            _ => Err(bad(&format!("{s:?}"))),
        };
    }
    // tiktoken checks `if disallowed_special:`, so any false value (0,
    // False, an empty collection) disables the check there too.
    if matches!(arg, Arg::Disallowed) && !obj.is_truthy()? {
        return Ok(Selection::none());
    }
    if obj.is_instance_of::<PyBytes>() || obj.is_instance_of::<PyDict>() {
        return Err(bad(&type_name(obj)));
    }
    let mut set = FxHashSet::default();
    let items = if let Ok(s) = obj.cast::<PySet>() {
        s.iter().collect::<Vec<_>>()
    } else if let Ok(s) = obj.cast::<pyo3::types::PyFrozenSet>() {
        s.iter().collect::<Vec<_>>()
    } else {
        obj.try_iter()
            .map_err(|_| bad(&type_name(obj)))?
            .collect::<PyResult<Vec<_>>>()?
    };
    for item in items {
        let s: String = item.extract().map_err(|_| {
            if item.is_instance_of::<PyString>() {
                // A str that is not valid Unicode (a lone surrogate) can name
                // no special token; say so instead of calling it the wrong type.
                let shown = item
                    .repr()
                    .map_or_else(|_| String::from("a str"), |r| r.to_string());
                PyValueError::new_err(format!(
                    "{what} contains {shown}, which has a lone surrogate and names no special token"
                ))
            } else {
                PyTypeError::new_err(format!("{what} must contain str, got {}", type_name(&item)))
            }
        })?;
        set.insert(s);
    }
    Ok(Selection::Set(set))
}

pub(crate) fn policy(
    allowed: &Bound<'_, PyAny>,
    disallowed: &Bound<'_, PyAny>,
) -> PyResult<SpecialPolicy> {
    Ok(SpecialPolicy {
        allowed: selection(allowed, Arg::Allowed)?,
        disallowed: selection(disallowed, Arg::Disallowed)?,
    })
}

#[pymethods]
impl PyCoreBpe {
    /// Build from a `{bytes: rank}` dict, a `{str: id}` dict of special
    /// tokens and the pre-tokenizer pattern.
    #[new]
    fn new(
        mergeable_ranks: &Bound<'_, PyDict>,
        special_tokens: &Bound<'_, PyDict>,
        pattern: &str,
    ) -> PyResult<Self> {
        let mut pairs = Vec::with_capacity(mergeable_ranks.len());
        for (k, v) in mergeable_ranks.iter() {
            let bytes = k.cast::<PyBytes>().map_err(|_| {
                PyTypeError::new_err(format!(
                    "mergeable_ranks keys must be bytes, got {}",
                    type_name(&k)
                ))
            })?;
            pairs.push((bytes.as_bytes().to_vec(), rank_of(&v, "rank")?));
        }
        let specials = specials_from_dict(special_tokens)?;
        Ok(Self::wrap(build(
            Vocab::new(pairs).map_err(to_py)?,
            specials,
            pattern,
        )?))
    }

    /// Build from the content of a `.tiktoken` rank file (already
    /// decompressed and hash-checked by the caller).
    #[staticmethod]
    fn from_tiktoken_bytes(
        py: Python<'_>,
        data: &[u8],
        special_tokens: &Bound<'_, PyDict>,
        pattern: &str,
    ) -> PyResult<Self> {
        let specials = specials_from_dict(special_tokens)?;
        let vocab = py.detach(|| Vocab::from_tiktoken(data)).map_err(to_py)?;
        Ok(Self::wrap(build(vocab, specials, pattern)?))
    }

    /// The pre-tokenizer pattern.
    #[getter]
    fn pattern(&self) -> &str {
        self.inner.pretokenizer().pattern()
    }

    /// One more than the largest mergeable rank.
    #[getter]
    fn rank_bound(&self) -> Rank {
        self.inner.vocab().rank_bound()
    }

    /// Number of mergeable tokens.
    #[getter]
    fn n_mergeable(&self) -> usize {
        self.inner.vocab().len()
    }

    /// `{str: id}` of the special tokens.
    fn special_tokens<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let d = PyDict::new(py);
        for (name, rank) in self.inner.specials().iter() {
            d.set_item(name, rank)?;
        }
        Ok(d)
    }

    /// `{bytes: rank}` of the mergeable tokens.
    fn mergeable_ranks<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let d = PyDict::new(py);
        for (bytes, rank) in self.inner.vocab().iter() {
            d.set_item(PyBytes::new(py, bytes), rank)?;
        }
        Ok(d)
    }

    /// Encode with no special-token handling.
    fn encode_ordinary<'py>(
        &self,
        py: Python<'py>,
        text: &Bound<'py, PyString>,
    ) -> PyResult<Bound<'py, PyList>> {
        let text = text_of(text)?;
        let text: &str = &text;
        let ids = run(py, text.len(), || self.inner.encode_ordinary(text))?;
        self.ints.list(py, &ids)
    }

    /// Encode under tiktoken's special-token policy (see `policy`).
    #[pyo3(signature = (text, allowed_special, disallowed_special))]
    fn encode<'py>(
        &self,
        py: Python<'py>,
        text: &Bound<'py, PyString>,
        allowed_special: &Bound<'py, PyAny>,
        disallowed_special: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyList>> {
        let pol = policy(allowed_special, disallowed_special)?;
        let text = text_of(text)?;
        let text: &str = &text;
        let ids = run(py, text.len(), || self.inner.encode(text, &pol))?;
        self.ints.list(py, &ids)
    }

    /// Stable tokens and possible completions (tiktoken's unstable API).
    #[pyo3(signature = (text, allowed_special, disallowed_special))]
    fn encode_with_unstable(
        &self,
        py: Python<'_>,
        text: &Bound<'_, PyString>,
        allowed_special: &Bound<'_, PyAny>,
        disallowed_special: &Bound<'_, PyAny>,
    ) -> PyResult<(Vec<Rank>, Vec<Vec<Rank>>)> {
        let pol = policy(allowed_special, disallowed_special)?;
        let text = text_of(text)?;
        let text: &str = &text;
        run(py, text.len(), || {
            self.inner.encode_with_unstable(text, &pol)
        })
    }

    /// Encode into a new `uint32` numpy array (no copy of the ids).
    #[pyo3(signature = (text, allowed_special, disallowed_special))]
    fn encode_to_numpy<'py>(
        &self,
        py: Python<'py>,
        text: &Bound<'py, PyString>,
        allowed_special: &Bound<'py, PyAny>,
        disallowed_special: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyArray1<u32>>> {
        let pol = policy(allowed_special, disallowed_special)?;
        let text = text_of(text)?;
        let text: &str = &text;
        let ids = run(py, text.len(), || self.inner.encode(text, &pol))?;
        Ok(PyArray1::from_vec(py, ids))
    }

    /// Number of tokens `encode` would return.
    #[pyo3(signature = (text, allowed_special, disallowed_special))]
    fn count(
        &self,
        py: Python<'_>,
        text: &Bound<'_, PyString>,
        allowed_special: &Bound<'_, PyAny>,
        disallowed_special: &Bound<'_, PyAny>,
    ) -> PyResult<usize> {
        let pol = policy(allowed_special, disallowed_special)?;
        let text = text_of(text)?;
        let text: &str = &text;
        run(py, text.len(), || self.inner.count(text, &pol))
    }

    /// Encode many texts in parallel with no special-token handling.
    fn encode_ordinary_batch<'py>(
        &self,
        py: Python<'py>,
        texts: &Bound<'py, PyAny>,
        num_threads: usize,
    ) -> PyResult<Bound<'py, PyList>> {
        let owned = strings_of(texts)?;
        let cows = texts_of(&owned)?;
        let texts: Vec<&str> = cows.iter().map(AsRef::as_ref).collect();
        batch_to_lists(py, &self.ints, &texts, num_threads, |t, ids| {
            self.inner.encode_ordinary_into(t, ids)
        })
    }

    /// Encode many texts in parallel under one special-token policy.
    #[pyo3(signature = (texts, num_threads, allowed_special, disallowed_special))]
    fn encode_batch<'py>(
        &self,
        py: Python<'py>,
        texts: &Bound<'py, PyAny>,
        num_threads: usize,
        allowed_special: &Bound<'py, PyAny>,
        disallowed_special: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyList>> {
        let owned = strings_of(texts)?;
        let cows = texts_of(&owned)?;
        let texts: Vec<&str> = cows.iter().map(AsRef::as_ref).collect();
        let pol = policy(allowed_special, disallowed_special)?;
        batch_to_lists(py, &self.ints, &texts, num_threads, |t, ids| {
            self.inner.encode_into(t, &pol, ids)
        })
    }

    /// Encode arbitrary bytes (need not be UTF-8).
    fn encode_bytes<'py>(&self, py: Python<'py>, data: &[u8]) -> PyResult<Bound<'py, PyList>> {
        let ids = run(py, data.len(), || self.inner.encode_bytes(data))?;
        self.ints.list(py, &ids)
    }

    /// BPE of one piece, without pre-tokenization.
    fn encode_single_piece<'py>(
        &self,
        py: Python<'py>,
        piece: &[u8],
    ) -> PyResult<Bound<'py, PyList>> {
        let ids = py.detach(|| self.inner.encode_piece(piece));
        self.ints.list(py, &ids)
    }

    /// The id of a byte string that is exactly one token.
    fn encode_single_token(&self, piece: &[u8]) -> PyResult<Rank> {
        self.inner.encode_single_token(piece).map_err(to_py)
    }

    /// Concatenated bytes of the tokens.
    fn decode_bytes<'py>(
        &self,
        py: Python<'py>,
        tokens: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyBytes>> {
        let ids = ids_from(tokens)?;
        let bytes = run(py, 4 * ids.len(), || self.inner.decode_bytes(&ids))?;
        Ok(PyBytes::new(py, &bytes))
    }

    /// Concatenated bytes of each token list.
    fn decode_bytes_batch<'py>(
        &self,
        py: Python<'py>,
        batch: &Bound<'py, PyAny>,
    ) -> PyResult<Vec<Bound<'py, PyBytes>>> {
        let lists: Vec<Vec<Rank>> = batch
            .try_iter()
            .map_err(|_| PyTypeError::new_err("batch must be an iterable of token sequences"))?
            .map(|item| ids_from(&item?))
            .collect::<PyResult<_>>()?;
        let out = py
            .detach(|| {
                lists
                    .iter()
                    .map(|ids| self.inner.decode_bytes(ids))
                    .collect::<Result<Vec<_>, _>>()
            })
            .map_err(to_py)?;
        Ok(out.iter().map(|b| PyBytes::new(py, b)).collect())
    }

    /// Bytes of a single token.
    fn decode_single_token_bytes<'py>(
        &self,
        py: Python<'py>,
        token: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyBytes>> {
        let ids = ids_from(&PyList::new(py, [token])?.into_any())?;
        let b = self.inner.token_bytes(ids[0]).map_err(to_py)?;
        Ok(PyBytes::new(py, b))
    }

    /// Bytes of each token.
    fn decode_tokens_bytes<'py>(
        &self,
        py: Python<'py>,
        tokens: &Bound<'py, PyAny>,
    ) -> PyResult<Vec<Bound<'py, PyBytes>>> {
        let ids = ids_from(tokens)?;
        ids.iter()
            .map(|&t| {
                self.inner
                    .token_bytes(t)
                    .map(|b| PyBytes::new(py, b))
                    .map_err(to_py)
            })
            .collect()
    }

    /// Concatenated bytes and the character offset where each token starts.
    fn decode_with_offsets<'py>(
        &self,
        py: Python<'py>,
        tokens: &Bound<'py, PyAny>,
    ) -> PyResult<(Bound<'py, PyBytes>, Vec<usize>)> {
        let ids = ids_from(tokens)?;
        let (bytes, offsets) = py
            .detach(|| self.inner.decode_with_offsets(&ids))
            .map_err(to_py)?;
        Ok((PyBytes::new(py, &bytes), offsets))
    }

    /// Bytes of every mergeable token, sorted bytewise (as tiktoken).
    fn token_byte_values<'py>(&self, py: Python<'py>) -> Vec<Bound<'py, PyBytes>> {
        let mut all: Vec<&[u8]> = self.inner.vocab().iter().map(|(b, _)| b).collect();
        all.sort_unstable();
        all.into_iter().map(|b| PyBytes::new(py, b)).collect()
    }

    /// The pieces the pre-tokenizer splits `text` into.
    fn pretokenize(&self, py: Python<'_>, text: &Bound<'_, PyString>) -> PyResult<Vec<String>> {
        let text = text_of(text)?;
        let text: &str = &text;
        py.detach(|| {
            self.inner
                .pretokenizer()
                .pieces(text)
                .map(|v| v.into_iter().map(str::to_owned).collect())
        })
        .map_err(to_py)
    }
}

/// Threads used by batch calls when the caller does not say.
#[pyfunction]
pub fn default_threads() -> usize {
    tokenbytes_core::parallel::default_threads()
}

#[allow(dead_code)]
fn _assert_untyped(a: &Bound<'_, PyArray1<u32>>) -> usize {
    a.len()
}
