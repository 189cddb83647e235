//! Exact byte-level probabilities from tokenized language models (issue 4).
