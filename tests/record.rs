//! Streaming statistics and sinks: error bounds, exact merges, known values.

use chaosim::engine::{RngDraws, SeedPath};
use chaosim::record::csv::{CsvSink, Fnv64};
use chaosim::record::stats::{
    IntMoments, LogSketch, SKETCH_RELATIVE_ERROR, Welford, t_interval, wilson_interval,
};

/// Heavy-tailed latencies in ns: exp(U[ln 1 µs, ln 100 s]).
fn samples(seed: u64, count: usize) -> Vec<u64> {
    let mut rng = SeedPath::root(seed).child("record-test").rng();
    let (lo, hi) = ((1e3f64).ln(), (1e11f64).ln());
    (0..count)
        .map(|_| (lo + (hi - lo) * rng.unit_f64()).exp() as u64)
        .collect()
}

fn exact_quantile(sorted: &[u64], num: u64, den: u64) -> u64 {
    let n = sorted.len() as u64;
    let rank = (num * n).div_ceil(den).max(1);
    sorted[(rank - 1) as usize]
}

#[test]
fn sketch_quantiles_stay_within_the_stated_relative_error() {
    let mut values = samples(1, 20_000);
    values.extend([0, 1, 5, 127, 128, 129, 1_000_000]);
    let mut sketch = LogSketch::new();
    for &v in &values {
        sketch.push(v);
    }
    values.sort_unstable();
    for num in [1, 10, 250, 500, 900, 950, 990, 999, 1000] {
        let exact = exact_quantile(&values, num, 1000) as f64;
        let est = sketch.quantile_ratio(num, 1000).unwrap();
        let err = (est - exact).abs();
        assert!(
            err <= exact * SKETCH_RELATIVE_ERROR,
            "q {num}/1000: estimate {est}, exact {exact}, error {err} > {}",
            exact * SKETCH_RELATIVE_ERROR
        );
    }
    assert_eq!(SKETCH_RELATIVE_ERROR, 1.0 / 256.0);
}

#[test]
fn sketch_is_exact_below_128_and_empty_has_no_quantile() {
    let mut s = LogSketch::new();
    assert_eq!(s.quantile_ratio(1, 2), None);
    for v in [3u64, 1, 2] {
        s.push(v);
    }
    assert_eq!(s.quantile_ratio(1, 2), Some(2.0));
    assert_eq!(s.quantile_ratio(1, 1), Some(3.0));
    assert_eq!(s.quantile_ratio(0, 1), Some(1.0));
}

#[test]
fn sketch_and_int_moments_merge_exactly_in_any_grouping() {
    let values = samples(2, 9_000);
    let whole = {
        let mut s = LogSketch::new();
        let mut m = IntMoments::default();
        for &v in &values {
            s.push(v);
            m.push(v);
        }
        (s, m)
    };
    // Three parts merged as (a + b) + c and as a + (b + c).
    let part = |r: std::ops::Range<usize>| {
        let mut s = LogSketch::new();
        let mut m = IntMoments::default();
        for &v in &values[r] {
            s.push(v);
            m.push(v);
        }
        (s, m)
    };
    let (a, b, c) = (part(0..1000), part(1000..7000), part(7000..9000));
    let mut left = a.clone();
    left.0.merge(&b.0);
    left.1.merge(&b.1);
    left.0.merge(&c.0);
    left.1.merge(&c.1);
    let mut bc = b.clone();
    bc.0.merge(&c.0);
    bc.1.merge(&c.1);
    let mut right = a;
    right.0.merge(&bc.0);
    right.1.merge(&bc.1);
    assert_eq!(left.0, whole.0);
    assert_eq!(right.0, whole.0);
    assert_eq!(left.1, whole.1);
    assert_eq!(right.1, whole.1);
    assert_eq!(
        left.1.variance().to_bits(),
        whole.1.variance().to_bits(),
        "integer moments give the same bits"
    );
}

#[test]
fn welford_matches_two_pass_and_merges() {
    let xs: Vec<f64> = samples(3, 5_000).iter().map(|&v| v as f64 / 1e6).collect();
    let mean = xs.iter().sum::<f64>() / xs.len() as f64;
    let var = xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (xs.len() - 1) as f64;
    let mut w = Welford::new();
    xs.iter().for_each(|&x| w.push(x));
    assert!((w.mean() - mean).abs() <= 1e-9 * mean.abs());
    assert!((w.variance() - var).abs() <= 1e-9 * var);
    let (mut a, mut b) = (Welford::new(), Welford::new());
    xs[..1234].iter().for_each(|&x| a.push(x));
    xs[1234..].iter().for_each(|&x| b.push(x));
    a.merge(&b);
    assert_eq!(a.count(), 5_000);
    assert!((a.mean() - mean).abs() <= 1e-9 * mean.abs());
    assert!((a.variance() - var).abs() <= 1e-9 * var);
}

#[test]
fn wilson_interval_matches_known_values() {
    // Reference values of the Wilson score interval at 95 % (z = 1.959964),
    // e.g. Newcombe (1998): 0/10 -> [0, 0.2775]; 8/10 -> [0.4902, 0.9433].
    let cases = [
        (8, 10, 0.490_162, 0.943_318),
        (0, 10, 0.0, 0.277_533),
        (10, 10, 0.722_467, 1.0),
        (50, 100, 0.403_832, 0.596_168),
        (1, 20, 0.008_881, 0.236_131),
    ];
    for (k, n, lo, hi) in cases {
        let ci = wilson_interval(k, n, 0.95);
        assert!(
            (ci.low - lo).abs() < 1e-5,
            "{k}/{n}: low {} vs {lo}",
            ci.low
        );
        assert!(
            (ci.high - hi).abs() < 1e-5,
            "{k}/{n}: high {} vs {hi}",
            ci.high
        );
    }
    let empty = wilson_interval(0, 0, 0.95);
    assert_eq!((empty.low, empty.high), (0.0, 1.0));
}

#[test]
fn t_interval_matches_known_quantile() {
    // t(9, 0.975) = 2.262157; half-width = 2.262157 * 2 / sqrt(10).
    let ci = t_interval(5.0, 2.0, 10, 0.95);
    let half = 2.262_157 * 2.0 / 10f64.sqrt();
    assert!((ci.low - (5.0 - half)).abs() < 1e-5, "{ci:?}");
    assert!((ci.high - (5.0 + half)).abs() < 1e-5, "{ci:?}");
    let one = t_interval(5.0, 0.0, 1, 0.95);
    assert_eq!((one.low, one.high), (5.0, 5.0));
}

#[test]
fn csv_sink_counts_checksums_and_names_its_file_on_error() {
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("record_csv");
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("t.csv");
    let mut sink = CsvSink::create(&path).unwrap();
    sink.write_record(&["a", "b,c"]).unwrap();
    sink.write_raw(b"1,2\n").unwrap();
    let sum = sink.checksum();
    let bytes = sink.finish().unwrap();
    let text = std::fs::read(&path).unwrap();
    assert_eq!(text, b"a,\"b,c\"\n1,2\n");
    assert_eq!(bytes, text.len() as u64);
    let mut f = Fnv64::new();
    f.update(&text);
    assert_eq!(f.value(), sum);
    let err = CsvSink::create(dir.join("no/such/dir/x.csv"))
        .err()
        .expect("missing directory");
    assert!(err.to_string().contains("no/such/dir/x.csv"), "{err}");
}
