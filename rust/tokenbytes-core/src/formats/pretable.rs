//! The pre-tokenizers of byte-level BPE GGUF files, by `tokenizer.ggml.pre`.
//!
//! llama.cpp (`src/llama-vocab.cpp`, `llm_tokenizer_bpe`) maps each
//! `tokenizer.ggml.pre` name to a list of regexes applied in sequence, every
//! regex splitting the pieces of the previous one with the unmatched gaps
//! kept (`Split(..., Isolated)` in `tokenizers`), then GPT-2 byte mapping.
//! This table follows those names and lists, with two kinds of deliberate
//! differences, both towards the original Hugging Face tokenizer the GGUF
//! file was converted from (which the `.gguf.out` test vectors come from):
//!
//! * where llama.cpp rewrote a regex for its own engine and kept the
//!   original in a comment (`(?i:'s|...)` → `(?:'[sS]|...)`, the tekken /
//!   gpt-4o lookahead forms, possessive quantifiers), the original is used:
//!   `tokenizers`' regex engine (Oniguruma) runs it as is, and it is not the
//!   same language (`(?i:'s)` also matches `'ſ` (U+017F), `[\p{Lu}...\p{M}]`
//!   admits combining marks that the rewrite does not);
//! * Falcon's original pipeline maps bytes before its digit splits (digit
//!   runs are split out of the byte-level text, so `½` = `Â½` splits into
//!   `Â` and `½`); the table encodes that order.
//!
//! Names whose llama.cpp pre-tokenizer is custom code (kimi-k2, afmoe,
//! superbpe) or not byte-level (gemma4, sarvam-moe, whitespace) are not
//! supported.

use super::json::PreStep;

/// How one `tokenizer.ggml.pre` name is tokenized.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PreSpec {
    /// Pre-tokenizer steps before the final byte-level mapping.
    pub steps: Vec<PreStep>,
    /// llama.cpp's `ignore_merges` (a piece that is a token is emitted whole).
    pub ignore_merges: bool,
    /// llama.cpp's default for `add_bos` when the file has no
    /// `tokenizer.ggml.add_bos_token`.
    pub add_bos_default: bool,
    /// llama.cpp drops the BOS token for this name (ChatGLM / GLM-4).
    pub no_bos: bool,
}

/// GPT-2 (the regex of `tokenizers`' ByteLevel pre-tokenizer).
const GPT2: &str = r"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+";
/// Llama-3 (as in its tokenizer.json).
const LLAMA3: &str = r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+";
/// Qwen2 (Llama-3's with single digits).
const QWEN2: &str = r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+";
/// Qwen3.5 (combining marks join letters).
const QWEN35: &str = r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?[\p{L}\p{M}]+|\p{N}| ?[^\s\p{L}\p{M}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+";
/// Mistral Tekken.
const TEKKEN: &str = r"[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+|[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+";
/// GPT-4o (o200k).
const GPT4O: &str = r"[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?|[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+";
/// Jais-2: Llama-3's with a cascade of whitespace run lengths.
const JAIS2: &str = r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s{512}(?!\S)|\s{256}(?!\S)|\s{128}(?!\S)|\s{64}(?!\S)|\s{32}(?!\S)|\s{16}(?!\S)|\s{8}(?!\S)|\s{4}(?!\S)|\s{1,2}(?!\S)|\s{1}";
/// Granite embedding (multilingual, 97m): llama.cpp's own form.
const GRANITE_EMB_MULTI: &str = r"[^\r\n\p{L}\p{N}]?((?=[\p{L}\p{M}])([^a-z]))*((?=[\p{L}\p{M}])([^A-Z]))+(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])?|[^\r\n\p{L}\p{N}]?((?=[\p{L}\p{M}])([^a-z]))+((?=[\p{L}\p{M}])([^A-Z]))*(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])?|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+";
/// Tiny Aya: digit groups of three from the right.
const TINY_AYA_DIGITS: &str = r"\d{1,3}(?=(?:\d{3})*\b)";
/// Tiny Aya: the main regex.
const TINY_AYA: &str = r"[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?|[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+";
/// Bailing MoE (possessive quantifiers, as in its tokenizer.json).
const BAILINGMOE: &str = r"'(?i:[sdmt]|ll|ve|re)|[^\r\n\p{L}\p{N}]?+\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]++[\r\n]*|\s*[\r\n]|\s+(?!\S)|\s+";
/// Seed-Coder.
const SEED_CODER: &str = r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1}| ?[^\s\p{L}\p{N}\r\n]+|\s*[\r\n]+|\s+(?!\S)|\s+";
/// Ufakzeka: Qwen2's without the English contractions.
const UFAKZEKA: &str =
    r"[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+";
/// Laguna: Qwen2's in llama.cpp's case-spelled form.
const LAGUNA: &str = r"(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+";
/// EXAONE MoE.
const EXAONE_MOE: &str = r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?(?:\p{L}\p{M}*(?: \p{L}\p{M}*)*)+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n/]?|\s*[\r\n]|\s+(?!\S)|\s+";
/// MiniCPM5.
const MINICPM5: &str = r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}+| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+";
/// Youtu (llama.cpp's form).
const YOUTU_CJK: &str = "[가-힣ㄱ-ㆎ]+|[！…“”‘’—：；，、-〿︰-﹏]+|[ㄅ-ㄯ]+|[一-龥぀-ゟ゠-ヿ]+";
const YOUTU: &str = r"[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])?|[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])?|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+";
/// DeepSeek-V3 and relatives: the main regex.
const DEEPSEEK3: &str = "[!\"#$%&'()*+,\\-./:;<=>?@\\[\\\\\\]^_`{|}~][A-Za-z]+|[^\r\n\\p{L}\\p{P}\\p{S}]?[\\p{L}\\p{M}]+| ?[\\p{P}\\p{S}]+[\r\n]*|\\s*[\r\n]+|\\s+(?!\\S)|\\s+";
/// Spark 2.5: the main regex.
const SPARK2_5: &str = "[!\"#$%&'()*+,\\-./:;<=>?@\\[\\\\\\]^_`{|}~][A-Za-z]+|[^\r\n\\p{L}\\p{P}\\p{S}]?[\\p{L}\\p{M}]+| ?[\\p{P}\\p{S}]+|[\r\n]|\\s+(?!\\S)|\\s+";
/// BLOOM / Poro / GPT-3 Finnish / Viking.
const BLOOM: &str = r" ?[^(\s|.,!?…。，、।۔،)]+";
/// Punctuation runs (llama.cpp's `\p{P}` plus the ASCII symbols).
const PUNCT_RUNS: &str = r"[\p{P}\$\+<=>\^~\|`]+";
/// llama.cpp's default when the file names no pre-tokenizer.
const DEFAULT_PUNCT_RUNS: &str = r"[\p{P}\$\+<=>\^~\|]+";
/// DeepSeek LLM: an optional space and a run of cased letters (explicit ranges).
const DEEPSEEK_LETTERS: &str =
    "\\s?[A-Za-zµÀ-ÖØ-öø-ƺƼ-ƿǄ-ʓʕ-ʯͰ-ͳͶͷͻ-ͽͿΆΈ-ΊΌΎ-ΡΣ-ϵϷ-ҁҊ-ԯԱ-ՖႠ-ჅᎠ-Ᏽᏸ-ᏽᲐ-ᲺᲽ-Ჿᴀ-ᴫᵫ-ᵷᵹ-ᶚḀ-ἕἘ-Ἕἠ-ὅὈ-Ὅὐ-ὗὙὛὝὟ-ώᾀ-ᾴᾶ-ᾼιῂ-ῄῆ-ῌῐ-ΐῖ-Ίῠ-Ῥῲ-ῴῶ-ῼℂℇℊ-ℓℕℙ-ℝℤΩℨK-ℭℯ-ℴℹℼ-ℿⅅ-ⅉⅎↃↄⰀ-ⱻⱾ-ⳤⳫ-ⳮⳲⳳꙀ-ꙭꚀ-ꚛꜢ-ꝯꝱ-ꞇꞋ-ꞎꭰ-ꮿﬀ-ﬆﬓ-ﬗＡ-Ｚａ-ｚ𐐀-𐑏𐒰-𐓓𐓘-𐓻𐲀-𐲲𐳀-𐳲𑢠-𑣟𞤀-𞥃]+";
/// DeepSeek LLM: an optional space and a run of ASCII/full-width punctuation.
const DEEPSEEK_PUNCT: &str = "\\s?[!-/:-~！-／：-～‘-‟　-。]+";
/// DeepSeek: runs of CJK ideographs, Samaritan..CJK and Hangul syllables.
const DEEPSEEK_CJK: &str = "[一-龥ࠀ-一가-퟿]+";
/// DeepSeek-V3: runs of CJK ideographs and kana.
const DEEPSEEK3_CJK: &str = "[一-龥぀-ゟ゠-ヿ]+";

fn split(res: &[&str]) -> Vec<PreStep> {
    res.iter()
        .map(|r| PreStep::Split((*r).to_owned()))
        .collect()
}

/// Why a known `tokenizer.ggml.pre` name cannot be converted, if it cannot.
fn unsupported(pre: &str) -> Option<&'static str> {
    Some(match pre {
        "kimi-k2" => "its llama.cpp pre-tokenizer is custom code (Han-aware splitting)",
        "afmoe" => "its llama.cpp pre-tokenizer uses custom digit grouping",
        "superbpe" => "its digit-grouping regex splits on empty matches",
        "gemma4" | "granite-embed-multi-311m" | "sarvam-moe" => {
            "it is a SentencePiece-style BPE on raw UTF-8, not byte-level BPE"
        }
        "whitespace" => "it splits on whitespace without byte-level mapping",
        _ => return None,
    })
}

/// The pre-tokenizer for `pre` (`None`: the file names none, which llama.cpp
/// treats as `"default"`).
///
/// `Err(reason)` for names that are known but unsupported and for unknown
/// names.
pub fn lookup(pre: Option<&str>) -> Result<PreSpec, String> {
    let name = pre.unwrap_or("default");
    if let Some(why) = unsupported(name) {
        return Err(format!("pre-tokenizer {name:?} is not supported: {why}"));
    }
    let mut ignore_merges = false;
    let mut add_bos_default = false;
    let mut no_bos = false;
    let steps = match name {
        "default" => split(&[DEFAULT_PUNCT_RUNS, GPT2, r"\p{N}+", "[0-9][0-9][0-9]"]),
        "minicpm5" => {
            ignore_merges = true;
            split(&[r"\p{N}{1,3}", MINICPM5])
        }
        "llama3" | "llama-v3" | "llama-bpe" | "falcon3" | "falcon-h1" | "pixtral" | "midm-2.0"
        | "lfm2" | "jina-v5-nano" => {
            ignore_merges = true;
            add_bos_default = true;
            split(&[LLAMA3])
        }
        "dbrx" | "smaug-bpe" => split(&[LLAMA3]),
        "jais-2" => split(&[JAIS2]),
        "deepseek-llm" => split(&[
            "[\r\n]",
            DEEPSEEK_LETTERS,
            DEEPSEEK_PUNCT,
            r"\s+$",
            DEEPSEEK_CJK,
            r"\p{N}+",
        ]),
        "deepseek-v3" | "hunyuan-dense" | "joyai-llm" | "hy_v4" => {
            split(&[r"\p{N}{1,3}", DEEPSEEK3_CJK, DEEPSEEK3])
        }
        "spark2_5" => split(&[r"\p{N}{1,3}", DEEPSEEK3_CJK, SPARK2_5, r"\p{N}"]),
        "youtu" => {
            ignore_merges = true;
            split(&[YOUTU_CJK, YOUTU])
        }
        "deepseek-coder" => split(&["[\r\n]", r"\s?\p{L}+", r"\s?\p{P}+", DEEPSEEK_CJK, r"\p{N}"]),
        "falcon" => vec![
            PreStep::Split(PUNCT_RUNS.to_owned()),
            PreStep::ByteLevelRegex,
            PreStep::Digits(false),
            PreStep::Split("[0-9][0-9][0-9]".to_owned()),
        ],
        "starcoder" | "refact" | "command-r" | "smollm" | "codeshell" | "exaone" | "minerva-7b"
        | "mellum2" => split(&[r"\p{N}", GPT2]),
        "gpt-2" | "phi-2" | "jina-es" | "jina-de" | "gigachat" | "jina-v2-es" | "jina-v2-de"
        | "a.x-4.0" | "mellum" | "modern-bert" | "jina-v1-en" | "jina-v2-code" | "roberta-bpe"
        | "exaone4" | "mpt" | "olmo" | "jais" | "trillion" | "granite-docling" => split(&[GPT2]),
        "qwen2" | "deepseek-r1-qwen" | "kormo" | "f2llmv2" | "stablelm2" | "megrez" | "hunyuan"
        | "solar-open" | "grok-2" => split(&[QWEN2]),
        "qwen35" => split(&[QWEN35]),
        "poro-chat" | "bloom" | "gpt3-finnish" => split(&[BLOOM]),
        "chatglm-bpe" => {
            no_bos = true;
            split(&[LLAMA3])
        }
        "glm4" | "glm5" => {
            no_bos = true;
            ignore_merges = true;
            split(&[LLAMA3])
        }
        "viking" => split(&[BLOOM, r"\p{N}"]),
        "tekken" => {
            ignore_merges = true;
            add_bos_default = true;
            split(&[TEKKEN])
        }
        "chameleon" => {
            add_bos_default = true;
            split(&[
                "<sentinel:[0-9]+>",
                "(IMGIMG)((A|B|C|D|E|F|G|H|I){1,4})Z",
                "([\t\n]|    |  )",
                r"\p{N}",
                r"[\p{P}!-/:-@\[-`{-~]",
                GPT2,
            ])
        }
        "gpt-4o" | "llama4" | "kanana2" | "talkie" | "minimax-m2" => split(&[GPT4O]),
        "granite-embed-multi-97m" => {
            ignore_merges = true;
            split(&[GRANITE_EMB_MULTI])
        }
        "tiny_aya" | "cohere2moe" => split(&[TINY_AYA_DIGITS, TINY_AYA]),
        "bailingmoe" | "bailingmoe2" | "llada-moe" => split(&[BAILINGMOE]),
        "seed-coder" => split(&[SEED_CODER]),
        "ufakzeka" => split(&[UFAKZEKA]),
        "laguna" => split(&["[^\n]+|[\n]+", LAGUNA]),
        "exaone-moe" => split(&[EXAONE_MOE]),
        _ => {
            return Err(format!(
                "unknown pre-tokenizer {name:?} (tokenizer.ggml.pre); llama.cpp names this \
                 converter knows are listed in tokenbytes_core::formats::pretable"
            ))
        }
    };
    Ok(PreSpec {
        steps,
        ignore_merges,
        add_bos_default,
        no_bos,
    })
}

/// Every name [`lookup`] accepts (for tests and documentation).
pub const KNOWN: &[&str] = &[
    "default",
    "minicpm5",
    "llama3",
    "llama-v3",
    "llama-bpe",
    "falcon3",
    "falcon-h1",
    "pixtral",
    "midm-2.0",
    "lfm2",
    "jina-v5-nano",
    "dbrx",
    "smaug-bpe",
    "jais-2",
    "deepseek-llm",
    "deepseek-v3",
    "hunyuan-dense",
    "joyai-llm",
    "hy_v4",
    "spark2_5",
    "youtu",
    "deepseek-coder",
    "falcon",
    "starcoder",
    "refact",
    "command-r",
    "smollm",
    "codeshell",
    "exaone",
    "minerva-7b",
    "mellum2",
    "gpt-2",
    "phi-2",
    "jina-es",
    "jina-de",
    "gigachat",
    "jina-v2-es",
    "jina-v2-de",
    "a.x-4.0",
    "mellum",
    "modern-bert",
    "jina-v1-en",
    "jina-v2-code",
    "roberta-bpe",
    "exaone4",
    "mpt",
    "olmo",
    "jais",
    "trillion",
    "granite-docling",
    "qwen2",
    "deepseek-r1-qwen",
    "kormo",
    "f2llmv2",
    "stablelm2",
    "megrez",
    "hunyuan",
    "solar-open",
    "grok-2",
    "qwen35",
    "poro-chat",
    "bloom",
    "gpt3-finnish",
    "chatglm-bpe",
    "glm4",
    "glm5",
    "viking",
    "tekken",
    "chameleon",
    "gpt-4o",
    "llama4",
    "kanana2",
    "talkie",
    "minimax-m2",
    "granite-embed-multi-97m",
    "tiny_aya",
    "cohere2moe",
    "bailingmoe",
    "bailingmoe2",
    "llada-moe",
    "seed-coder",
    "ufakzeka",
    "laguna",
    "exaone-moe",
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_known_name_has_regexes_that_compile() {
        for name in KNOWN {
            let spec = lookup(Some(name)).unwrap_or_else(|e| panic!("{name}: {e}"));
            assert!(!spec.steps.is_empty());
            for step in &spec.steps {
                if let PreStep::Split(re) = step {
                    fancy_regex::Regex::new(re).unwrap_or_else(|e| panic!("{name}: {re}: {e}"));
                }
            }
        }
        assert_eq!(lookup(None), lookup(Some("default")));
        assert!(lookup(Some("llama-bpe")).is_ok_and(|s| s.ignore_merges && s.add_bos_default));
        assert!(lookup(Some("glm4")).is_ok_and(|s| s.no_bos));
    }

    #[test]
    fn unsupported_and_unknown_names_are_errors() {
        for name in [
            "kimi-k2",
            "afmoe",
            "superbpe",
            "gemma4",
            "sarvam-moe",
            "whitespace",
        ] {
            assert!(
                lookup(Some(name)).is_err_and(|e| e.contains("not supported")),
                "{name}"
            );
        }
        assert!(lookup(Some("no-such-pre")).is_err_and(|e| e.contains("unknown pre-tokenizer")));
    }
}
