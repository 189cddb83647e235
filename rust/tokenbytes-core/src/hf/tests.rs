//! Unit tests of the `tokenizer.json` pipeline on small hand-made files.
