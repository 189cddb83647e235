//! Hugging Face `tokenizer.json` byte-level BPE pipelines (issue 3).
