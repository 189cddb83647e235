//! Other tokenizer file formats (GGUF, Mistral Tekken), converted to the
//! Hugging Face `tokenizer.json` schema (issue 3).
