//! Tests of the hand-written splitters: differential against the regex
//! engine (`PreTokenizer::regex`) on random strings over a hostile alphabet,
//! on every Unicode scalar value in several contexts, on the benchmark
//! corpus, plus worst-case (linear time) inputs and a throughput report.
//!
//! Debug builds run reduced sweeps (the regex engine is slow without
//! optimisation); `cargo test --release` runs the full sweeps. Set
//! `TOKENBYTES_PRETOK_FULL=1` to force the full sweeps in a debug build.

#![allow(clippy::unwrap_used, clippy::print_stderr)]

use std::time::Instant;

use super::tables::{class_ranges, Tables, F_L, F_N, F_NL, F_O, F_P, F_S, F_U, F_W};
use super::{
    PreTokenizer, CL100K_PATTERN, LLAMA3_PATTERN, O200K_PATTERN, QWEN2_PATTERN, R50K_PATTERN,
};

const PATTERNS: [(&str, &str); 5] = [
    ("r50k", R50K_PATTERN),
    ("cl100k", CL100K_PATTERN),
    ("o200k", O200K_PATTERN),
    ("llama3", LLAMA3_PATTERN),
    ("qwen2", QWEN2_PATTERN),
];

fn full_sweeps() -> bool {
    !cfg!(debug_assertions) || std::env::var_os("TOKENBYTES_PRETOK_FULL").is_some()
}

/// The pair (hand-written, regex) for every pattern.
fn engines() -> Vec<(&'static str, PreTokenizer, PreTokenizer)> {
    PATTERNS
        .iter()
        .map(|&(name, pat)| {
            let fast = PreTokenizer::new(pat).unwrap();
            assert!(fast.is_hand_written(), "{name}");
            (name, fast, PreTokenizer::regex(pat).unwrap())
        })
        .collect()
}

/// Byte spans of the pieces.
fn spans(pt: &PreTokenizer, text: &str) -> Vec<(usize, usize)> {
    let base = text.as_ptr() as usize;
    let mut out = Vec::new();
    pt.split(text, |p| {
        let s = p.as_ptr() as usize - base;
        out.push((s, s + p.len()));
    })
    .unwrap();
    out
}

#[track_caller]
fn assert_same(name: &str, fast: &PreTokenizer, regex: &PreTokenizer, text: &str) {
    let a = spans(fast, text);
    let b = spans(regex, text);
    if a != b {
        let k = a.iter().zip(&b).take_while(|(x, y)| x == y).count();
        let show = |v: &[(usize, usize)]| -> Vec<&str> {
            v.iter()
                .skip(k)
                .take(4)
                .map(|&(s, e)| &text[s..e])
                .collect()
        };
        let from = a.get(k).or(b.get(k)).map_or(0, |p| p.0);
        let ctx_start = floor(text, from.saturating_sub(40));
        let ctx_end = ceil(text, (from + 40).min(text.len()));
        panic!(
            "{name}: mismatch at piece {k} (byte {from}) in {:?}\n  context: {:?}\n  fast:  {:?}\n  regex: {:?}",
            if text.len() <= 200 { text } else { "<long text>" },
            &text[ctx_start..ctx_end],
            show(&a),
            show(&b),
        );
    }
}

fn floor(s: &str, mut i: usize) -> usize {
    i = i.min(s.len());
    while !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

fn ceil(s: &str, mut i: usize) -> usize {
    while !s.is_char_boundary(i) {
        i += 1;
    }
    i
}

/// A small fixed-seed PRNG (splitmix64).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        (((self.next() >> 32) * n as u64) >> 32) as usize
    }
}

/// Characters that exercise every class and every special case of the
/// patterns. Repeated entries are weights.
const NASTY: &[char] = &[
    // ASCII letters, with the contraction letters in both cases
    'a',
    'b',
    'z',
    'A',
    'Z',
    's',
    'S',
    'd',
    'D',
    'm',
    'M',
    't',
    'T',
    'l',
    'L',
    'v',
    'V',
    'e',
    'E',
    'r',
    'R',
    'k',
    'x', // digits
    '0',
    '1',
    '9',
    '5', // punctuation (incl. the slash of o200k)
    '!',
    '.',
    ',',
    '-',
    '/',
    '/',
    '"',
    '#',
    '(',
    ')',
    '_',
    '^',
    '\\',
    '`',
    '~',
    '$',
    '\'',
    '\'',
    '\'',
    '\'', // white space (with weight)
    ' ',
    ' ',
    ' ',
    ' ',
    ' ',
    ' ',
    '\t',
    '\r',
    '\n',
    '\n',
    '\n',
    '\u{0b}',
    '\u{0c}',
    '\u{a0}',
    '\u{2028}',
    '\u{3000}',
    '\u{85}',
    '\u{2009}',
    '\u{1680}', // controls that are not \s
    '\u{0}',
    '\u{1f}',
    '\u{7f}',
    '\u{9f}', // typographic apostrophe
    '\u{2019}',
    '\u{2019}', // combining marks (Mn, Mc, Me)
    '\u{301}',
    '\u{301}',
    '\u{308}',
    '\u{903}',
    '\u{20dd}', // Lt, Lm, Lo
    '\u{1c5}',
    '\u{1c8}',
    '\u{2b0}',
    '\u{2b0}',
    '\u{3005}',
    '\u{4e2d}',
    '\u{6587}',
    '\u{5d0}',
    '\u{5e9}',
    '\u{aa7b}', // Greek, Cyrillic
    '\u{3a9}',
    '\u{3c9}',
    '\u{3a3}',
    '\u{3c3}',
    '\u{3c2}',
    '\u{416}',
    '\u{436}', // numbers
    '\u{b2}',
    '\u{bd}',
    '\u{660}',
    '\u{669}',
    '\u{216b}',
    '\u{ff11}',
    '\u{1d7ce}', // emoji, etc.
    '\u{1f600}',
    '\u{1f44d}',
    '\u{1f3fb}',
    '\u{200d}',
    '\u{fe0f}',
    '\u{fffd}',
    '\u{e000}',
    '\u{10ffff}', // case folding traps
    '\u{17f}',
    '\u{17f}',
    '\u{212a}',
    '\u{130}',
    '\u{131}',
    '\u{212b}',
    '\u{1e9e}',
    '\u{df}',
    // upper/lower letters with marks, title case
    '\u{c0}',
    '\u{e0}',
    '\u{1f88}',
    '\u{1f80}',
];

fn random_string(rng: &mut Rng, max_len: usize) -> String {
    let len = rng.below(max_len + 1);
    let mut s = String::with_capacity(len * 2);
    // Sometimes restrict to a small sub-alphabet so that long runs and
    // specific interactions become likely.
    let sub: Vec<char> = if rng.below(3) == 0 {
        (0..1 + rng.below(4))
            .map(|_| NASTY[rng.below(NASTY.len())])
            .collect()
    } else {
        NASTY.to_vec()
    };
    for _ in 0..len {
        s.push(sub[rng.below(sub.len())]);
    }
    s
}

#[test]
fn patterns_are_the_published_strings() {
    let o200k = [
        r"[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?",
        r"[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?",
        r"\p{N}{1,3}",
        r" ?[^\s\p{L}\p{N}]+[\r\n/]*",
        r"\s*[\r\n]+",
        r"\s+(?!\S)",
        r"\s+",
    ]
    .join("|");
    assert_eq!(O200K_PATTERN, o200k);
    assert!(R50K_PATTERN.starts_with(r"'(?:[sdmt]|ll|ve|re)| ?\p{L}++"));
    assert!(!PreTokenizer::new(r"\S+|\s+").unwrap().is_hand_written());
    assert!(!PreTokenizer::regex(CL100K_PATTERN)
        .unwrap()
        .is_hand_written());
    assert_eq!(
        PreTokenizer::new(CL100K_PATTERN).unwrap().pattern(),
        CL100K_PATTERN
    );
}

#[test]
fn tables_agree_with_regex_syntax() {
    let t = Tables::get();
    let flags = [
        (r"\p{L}", F_L),
        (r"\p{N}", F_N),
        (r"\s", F_S),
        (r"[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]", F_U),
        (r"[\p{Ll}\p{Lm}\p{Lo}\p{M}]", F_W),
        (r"[^\s\p{L}\p{N}]", F_O),
        (r"[^\r\n\p{L}\p{N}]", F_P),
        (r"[\r\n]", F_NL),
    ];
    for (pat, flag) in flags {
        let mut inside = vec![false; 0x11_0000];
        for (lo, hi) in class_ranges(pat) {
            inside[lo as usize..=hi as usize].fill(true);
        }
        for c in (0..=0x10_FFFFu32).filter_map(char::from_u32) {
            assert_eq!(
                t.of_char(c) & flag != 0,
                inside[c as usize],
                "{pat} at U+{:04X}",
                u32::from(c)
            );
        }
    }
    // Consistency of the derived classes.
    for c in (0..=0x10_FFFFu32).filter_map(char::from_u32) {
        let f = t.of_char(c);
        assert_eq!(f & F_O != 0, f & (F_L | F_N | F_S) == 0);
        assert_eq!(f & F_P != 0, f & (F_L | F_N | F_NL) == 0);
        if f & F_L != 0 {
            assert_ne!(f & (F_U | F_W), 0, "letter U+{:04X}", u32::from(c));
        }
    }
    // `(?i:s)` also matches U+017F; the other contraction letters only fold
    // within ASCII.
    assert_eq!(t.folds(), &[(0x17F, b's')]);
    assert_eq!(class_ranges("(?i:')"), [(0x27, 0x27)]);
}

#[test]
fn known_splits() {
    let cases: &[(&str, &str, &[&str])] = &[
        (
            CL100K_PATTERN,
            "Hello world! It's 12345 \n\n  x  ",
            &[
                "Hello", " world", "!", " It", "'s", " ", "123", "45", " \n\n", " ", " x", "  ",
            ],
        ),
        (
            CL100K_PATTERN,
            "'Sa 'ſ 'LL",
            &["'S", "a", " '", "ſ", " '", "LL"],
        ),
        (R50K_PATTERN, "'Sa 'll", &["'", "Sa", " '", "ll"]),
        (R50K_PATTERN, "a  \tb\n", &["a", "  ", "\t", "b", "\n"]),
        (
            O200K_PATTERN,
            "HTMLParser DON'T don't \u{301}ABC  \n  /x",
            &[
                "HTMLParser",
                " DON'T",
                " don't",
                " \u{301}",
                "ABC",
                "  \n",
                " ",
                " /",
                "x",
            ],
        ),
        (O200K_PATTERN, "!/\n/\nfoo", &["!/\n/\n", "foo"]),
        (
            O200K_PATTERN,
            "\u{301}AB A\u{2b0}B",
            &["\u{301}", "AB", " A\u{2b0}", "B"],
        ),
        (CL100K_PATTERN, "a \n", &["a", " \n"]),
        (CL100K_PATTERN, "\ta 'x", &["\ta", " '", "x"]),
        (CL100K_PATTERN, "'x", &["'x"]),
        (LLAMA3_PATTERN, "'Sa  \n\n a", &["'S", "a", "  \n\n", " a"]),
    ];
    for &(pat, text, want) in cases {
        let fast = PreTokenizer::new(pat).unwrap();
        let regex = PreTokenizer::regex(pat).unwrap();
        assert_eq!(regex.pieces(text).unwrap(), want, "regex on {text:?}");
        assert_eq!(fast.pieces(text).unwrap(), want, "fast on {text:?}");
    }
}

#[test]
fn random_strings_match_regex() {
    let n = std::env::var("TOKENBYTES_PRETOK_ITERS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(if full_sweeps() { 1_000_000 } else { 12_000 });
    for (name, fast, regex) in engines() {
        let mut rng = Rng(0x7E57_0000 + name.len() as u64);
        for _ in 0..n {
            let s = random_string(&mut rng, 24);
            assert_same(name, &fast, &regex, &s);
        }
    }
}

#[test]
fn long_random_strings_match_regex() {
    let n = if full_sweeps() { 2_000 } else { 40 };
    for (name, fast, regex) in engines() {
        let mut rng = Rng(0x10C0_0000 + name.len() as u64);
        for _ in 0..n {
            let s = random_string(&mut rng, 2_000);
            assert_same(name, &fast, &regex, &s);
        }
    }
}

/// Every scalar value `c` in contexts that exercise each class decision.
#[test]
fn every_scalar_value_in_context() {
    let contexts: &[(&str, &str)] = &[
        ("a", "b"),
        (" ", ""),
        ("", "'s"),
        ("1", "2"),
        ("", "\n"),
        ("  ", ""),
        ("'", ""),
        ("'l", ""),
        ("A", "a'T"),
        ("\u{301}", "B"),
    ];
    // Debug builds: every scalar below U+0800 and every 499th above, plus the
    // first and last scalar of every run of equal class flags.
    let t = Tables::get();
    let mut chars: Vec<char> = Vec::new();
    let mut prev: Option<(char, u8)> = None;
    for c in (0..=0x10_FFFFu32).filter_map(char::from_u32) {
        let f = t.of_char(c);
        let boundary = prev.is_none_or(|(_, pf)| pf != f);
        if full_sweeps() || u32::from(c) < 0x800 || u32::from(c) % 499 == 0 || boundary {
            chars.push(c);
            if boundary {
                if let Some((pc, _)) = prev {
                    chars.push(pc);
                }
            }
        }
        prev = Some((c, f));
    }
    chars.sort_unstable();
    chars.dedup();
    eprintln!(
        "{} scalar values x {} contexts",
        chars.len(),
        contexts.len()
    );
    let mut text = String::new();
    for (name, fast, regex) in engines() {
        for &c in &chars {
            for (pre, post) in contexts {
                text.clear();
                text.push_str(pre);
                text.push(c);
                text.push_str(post);
                assert_same(name, &fast, &regex, &text);
            }
        }
    }
}

/// Splitting must take linear time on any input; compare with the regex on
/// a prefix, then time the full input.
#[test]
fn worst_cases_are_linear() {
    let mb = 1 << 20;
    let mut rng = Rng(99);
    let letters: String = (0..mb)
        .map(|_| char::from(b'a' + rng.below(26) as u8))
        .collect();
    let mixed_case: String = (0..mb).map(|_| char::from(b"aA"[rng.below(2)])).collect();
    let inputs: Vec<(&str, String)> = vec![
        ("carets", "^".repeat(mb)),
        ("spaces then a", " ".repeat(mb) + "a"),
        ("spaces", " ".repeat(mb)),
        (
            "newlines then spaces",
            "\n".repeat(mb / 2) + &" ".repeat(mb / 2) + "a",
        ),
        ("a", "a".repeat(mb)),
        ("A", "A".repeat(mb)),
        ("digits", "7".repeat(mb)),
        ("'s", "'s".repeat(mb / 2)),
        ("random letters", letters),
        ("random case", mixed_case),
        ("marks", "\u{301}".repeat(mb / 2)),
        ("upper + mark", "A\u{301}".repeat(mb / 3)),
        ("lt + lm", "\u{1c5}\u{2b0}".repeat(mb / 4)),
        ("tabs + space", "\t ".repeat(mb / 2)),
        ("nbsp", "\u{a0}".repeat(mb / 2)),
        ("crlf space", "\r\n ".repeat(mb / 3)),
        ("slashes", "/".repeat(mb)),
        ("' '", "' ".repeat(mb / 2)),
    ];
    for (name, fast, regex) in engines() {
        for (what, text) in &inputs {
            let cut = floor(text, if full_sweeps() { 100_000 } else { 2_000 });
            assert_same(name, &fast, &regex, &text[..cut]);
            let t0 = Instant::now();
            let mut total = 0;
            fast.split(text, |p| total += p.len()).unwrap();
            let dt = t0.elapsed();
            assert_eq!(total, text.len());
            eprintln!("{name:>7} {what:>22}: {:>8.2} ms", dt.as_secs_f64() * 1e3);
            // Generous bound (debug build on a slow machine); quadratic
            // behaviour on 1 MB would take minutes.
            assert!(dt.as_secs_f64() < 2.0, "{name} / {what}: {dt:?}");
        }
    }
}

// ---------------------------------------------------------------------------
// Corpus: /work/shared/corpus/bench/*.jsonl
// ---------------------------------------------------------------------------

const CORPUS_DIR: &str = "/work/shared/corpus/bench";
const CORPUS_FILES: [&str; 4] = ["en_prose", "code", "multi_eu", "cjk"];

/// Decode a JSON string literal starting at `s[0] == '"'`; returns the value
/// and the rest after the closing quote.
fn json_string(s: &str) -> Option<(String, &str)> {
    let mut out = String::new();
    let mut it = s.strip_prefix('"')?.char_indices();
    let rest = s.get(1..)?;
    let hex4 = |it: &mut std::str::CharIndices<'_>| -> Option<u32> {
        let mut v = 0;
        for _ in 0..4 {
            v = v * 16 + it.next()?.1.to_digit(16)?;
        }
        Some(v)
    };
    while let Some((pos, c)) = it.next() {
        match c {
            '"' => return Some((out, &rest[pos + 1..])),
            '\\' => match it.next()?.1 {
                'n' => out.push('\n'),
                't' => out.push('\t'),
                'r' => out.push('\r'),
                'b' => out.push('\u{8}'),
                'f' => out.push('\u{c}'),
                'u' => {
                    let hi = hex4(&mut it)?;
                    let cp = if (0xD800..0xDC00).contains(&hi) {
                        let mut look = it.clone();
                        if look.next()?.1 == '\\' && look.next()?.1 == 'u' {
                            let lo = hex4(&mut look)?;
                            if (0xDC00..0xE000).contains(&lo) {
                                it = look;
                                0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00)
                            } else {
                                0xFFFD
                            }
                        } else {
                            0xFFFD
                        }
                    } else {
                        hi
                    };
                    out.push(char::from_u32(cp).unwrap_or('\u{fffd}'));
                }
                other => out.push(other), // \" \\ \/
            },
            c => out.push(c),
        }
    }
    None
}

/// The "text" field of a one-object JSON line.
fn json_text_field(line: &str) -> Option<String> {
    let mut rest = line.trim_start().strip_prefix('{')?;
    loop {
        rest = rest.trim_start();
        let (key, after) = json_string(rest)?;
        rest = after.trim_start().strip_prefix(':')?.trim_start();
        let (value, after) = json_string(rest)?;
        if key == "text" {
            return Some(value);
        }
        rest = after.trim_start().strip_prefix(',')?;
    }
}

#[test]
fn json_parsing() {
    let line = r#"{"id": "x", "text": "a\"b\\c\/\n\u00e9\ud83d\ude00\\ud800"}"#;
    assert_eq!(
        json_text_field(line).unwrap(),
        "a\"b\\c/\n\u{e9}\u{1f600}\\ud800"
    );
}

fn load_corpus(name: &str) -> Option<Vec<String>> {
    let path = format!("{CORPUS_DIR}/{name}.jsonl");
    let data = std::fs::read_to_string(path).ok()?;
    Some(
        data.lines()
            .filter(|l| !l.trim().is_empty())
            .map(|l| json_text_field(l).expect("corpus line with a text field"))
            .collect(),
    )
}

/// A few documents of each corpus file (fast enough for debug builds).
#[test]
fn corpus_sample_matches_regex() {
    for file in CORPUS_FILES {
        let Some(docs) = load_corpus(file) else {
            eprintln!("corpus {file} not found; skipped");
            continue;
        };
        for (name, fast, regex) in engines() {
            for doc in docs.iter().step_by(docs.len() / 3 + 1) {
                let cut = floor(doc, 6_000);
                assert_same(name, &fast, &regex, &doc[..cut]);
            }
        }
    }
}

/// Every document of the corpus (`cargo test --release -- --ignored`).
#[test]
#[ignore = "slow: whole corpus through the regex engine"]
fn corpus_matches_regex() {
    for file in CORPUS_FILES {
        let docs = load_corpus(file).expect("corpus file");
        for (name, fast, regex) in engines() {
            let mut pieces = 0usize;
            for doc in &docs {
                assert_same(name, &fast, &regex, doc);
                pieces += spans(&fast, doc).len();
            }
            eprintln!(
                "{file:>9} {name:>7}: {} documents, {pieces} pieces identical",
                docs.len()
            );
        }
    }
}

/// Throughput of the hand-written splitters vs the regex engine
/// (`cargo test --release -- --ignored --nocapture throughput`).
/// Environment: `TB_BENCH_FILES` / `TB_BENCH_PATTERNS` (comma-separated
/// filters), `TB_BENCH_NO_REGEX` (time the hand-written splitters only),
/// `TB_BENCH_ROUNDS` (rounds of the hand-written splitters, default 5).
#[test]
#[ignore = "benchmark"]
fn throughput() {
    /// Seconds this thread has been running on a CPU (Linux: immune to
    /// other processes competing for the CPU), else wall-clock seconds.
    #[cfg(target_os = "linux")]
    fn cpu_seconds(_wall: Instant) -> f64 {
        #[repr(C)]
        struct Timespec {
            sec: i64,
            nsec: i64,
        }
        extern "C" {
            fn clock_gettime(clock: i32, ts: *mut Timespec) -> i32;
        }
        const CLOCK_THREAD_CPUTIME_ID: i32 = 3;
        let mut ts = Timespec { sec: 0, nsec: 0 };
        // SAFETY: `ts` is a valid, writable timespec (64-bit Linux layout).
        let rc = unsafe { clock_gettime(CLOCK_THREAD_CPUTIME_ID, &mut ts) };
        assert_eq!(rc, 0);
        ts.sec as f64 + ts.nsec as f64 * 1e-9
    }
    #[cfg(not(target_os = "linux"))]
    fn cpu_seconds(wall: Instant) -> f64 {
        wall.elapsed().as_secs_f64()
    }
    fn time(pt: &PreTokenizer, docs: &[String], rounds: usize) -> (f64, usize) {
        let mut best = f64::INFINITY;
        let mut pieces = 0;
        let wall = Instant::now();
        for _ in 0..rounds {
            let t0 = cpu_seconds(wall);
            let mut n = 0usize;
            for d in docs {
                pt.split(d, |p| n += std::hint::black_box(p).len() & 1)
                    .unwrap();
            }
            best = best.min(cpu_seconds(wall) - t0);
            pieces = std::hint::black_box(n);
        }
        (best, pieces)
    }
    let filter = |var: &str, name: &str| {
        std::env::var(var).map_or(true, |v| v.split(',').any(|x| x == name))
    };
    let no_regex = std::env::var_os("TB_BENCH_NO_REGEX").is_some();
    let rounds = std::env::var("TB_BENCH_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(5);
    let t0 = Instant::now();
    let tables = Tables::get();
    eprintln!("class tables: {tables:?}, first use {:?}", t0.elapsed());
    eprintln!("MB/s (1 MB = 1e6 bytes) per CPU-second, best of rounds, single thread");
    eprintln!(
        "{:>9} {:>7} {:>10} {:>10} {:>7}",
        "file", "pattern", "fast", "regex", "ratio"
    );
    for file in CORPUS_FILES
        .into_iter()
        .filter(|f| filter("TB_BENCH_FILES", f))
    {
        let docs = load_corpus(file).expect("corpus file");
        let bytes: usize = docs.iter().map(String::len).sum();
        for (name, fast, regex) in engines() {
            if !filter("TB_BENCH_PATTERNS", name) {
                continue;
            }
            let (tf, _) = time(&fast, &docs, rounds);
            let mf = bytes as f64 / tf / 1e6;
            if no_regex {
                eprintln!("{file:>9} {name:>7} {mf:>10.1}");
                continue;
            }
            let (tr, _) = time(&regex, &docs, 1);
            let mr = bytes as f64 / tr / 1e6;
            eprintln!(
                "{file:>9} {name:>7} {mf:>10.1} {mr:>10.1} {:>6.1}x",
                mf / mr
            );
        }
    }
}
