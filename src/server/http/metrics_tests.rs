//! Unit tests of `/metrics`: token check, histogram buckets.

use super::*;

#[test]
fn bearer_header_is_parsed_leniently_but_exactly() {
    let h = |v: &str| {
        let mut m = HeaderMap::new();
        m.insert(header::AUTHORIZATION, HeaderValue::from_str(v).unwrap());
        m
    };
    assert!(authorized(&h("Bearer tok"), "tok"));
    assert!(authorized(&h("bearer  tok "), "tok"));
    assert!(!authorized(&h("Basic tok"), "tok"));
    assert!(!authorized(&h("Bearer tok2"), "tok"));
    assert!(!authorized(&h("Bearer"), "tok"));
    assert!(!authorized(&HeaderMap::new(), "tok"));
}

#[test]
fn rtt_buckets_are_de_cumulated_with_inf_last() {
    const BOUNDS: [f64; 3] = [0.001, 0.01, 0.1];
    let cum = [0u64, 0, 5, 7];
    let (b, count) = rtt_buckets(&cum, &BOUNDS);
    assert_eq!(b.len(), BOUNDS.len() + 1);
    assert_eq!(b[2], (BOUNDS[2], 5));
    assert_eq!(b.last(), Some(&(f64::INFINITY, 2)));
    assert_eq!(count, 7);
    let (empty, n) = rtt_buckets(&[], &BOUNDS);
    assert_eq!((empty, n), (vec![(f64::INFINITY, 0)], 0));
}
