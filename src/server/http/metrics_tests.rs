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
    let mut cum = vec![0u64; RTT_BUCKETS.len() + 1];
    for (i, c) in cum.iter_mut().enumerate() {
        *c = if i >= 3 { 5 } else { 0 };
    }
    *cum.last_mut().unwrap() = 7;
    let (b, count) = rtt_buckets(&cum);
    assert_eq!(b.len(), RTT_BUCKETS.len() + 1);
    assert_eq!(b[3], (RTT_BUCKETS[3], 5));
    assert_eq!(b.last(), Some(&(f64::INFINITY, 2)));
    assert_eq!(count, 7);
    let (empty, n) = rtt_buckets(&[]);
    assert_eq!((empty, n), (vec![(f64::INFINITY, 0)], 0));
}
